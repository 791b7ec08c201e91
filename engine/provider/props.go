// Reading typed values out of property maps; secrets are unwrapped.

package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func plain(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func str(m resource.PropertyMap, k string) (string, bool) {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return "", false
	}
	v = plain(v)
	if v.IsString() {
		return v.StringValue(), true
	}
	return "", false
}

func num(m resource.PropertyMap, k string, def float64) float64 {
	if v, ok := m[resource.PropertyKey(k)]; ok {
		if v = plain(v); v.IsNumber() {
			return v.NumberValue()
		}
	}
	return def
}

func boolean(m resource.PropertyMap, k string, def bool) bool {
	if v, ok := m[resource.PropertyKey(k)]; ok {
		if v = plain(v); v.IsBool() {
			return v.BoolValue()
		}
	}
	return def
}

func strList(m resource.PropertyMap, k string) []string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return nil
	}
	v = plain(v)
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e = plain(e); e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

func strMap(m resource.PropertyMap, k string) map[string]string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return nil
	}
	v = plain(v)
	if !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for kk, e := range v.ObjectValue() {
		if e = plain(e); e.IsString() {
			out[string(kk)] = e.StringValue()
		}
	}
	return out
}

func obj(m resource.PropertyMap, k string) (resource.PropertyMap, bool) {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return nil, false
	}
	v = plain(v)
	if !v.IsObject() {
		return nil, false
	}
	return v.ObjectValue(), true
}

func copyMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

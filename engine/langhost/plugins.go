// Plugin discovery: the resource plugins a program needs are the installed
// Python distributions that ship a pulumi-plugin.json.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// pluginScan prints, as JSON, the pulumi-plugin.json of every installed
// distribution that declares a resource plugin.
const pluginScan = `
import json, importlib.metadata as md
seen, out = set(), []
for d in md.distributions():
    for f in d.files or []:
        if f.name != "pulumi-plugin.json":
            continue
        try:
            meta = json.loads(f.read_text())
        except Exception:
            continue
        if not meta.get("resource"):
            continue
        name = meta.get("name") or f.parent.name.replace("pulumi_", "", 1).replace("_", "-")
        key = (name, meta.get("version"))
        if key in seen:
            continue
        seen.add(key)
        out.append({"name": name, "version": meta.get("version") or d.version,
                    "server": meta.get("server", "")})
print(json.dumps(out))
`

type pluginMeta struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Server  string `json:"server"`
}

func scanPlugins(ctx context.Context, info *pulumirpc.ProgramInfo) ([]pluginMeta, error) {
	tc, err := resolve(info)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginScan)
	if err != nil {
		return nil, err
	}
	cmd.Dir = info.GetProgramDirectory()
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing python packages: %w", err)
	}
	var metas []pluginMeta
	if err := json.Unmarshal(out, &metas); err != nil {
		return nil, fmt.Errorf("parsing plugin list %q: %w", out, err)
	}
	return metas, nil
}

func semverish(v string) string {
	if v != "" && !strings.HasPrefix(v, "v") {
		return "v" + v
	}
	return v
}

func (h *host) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	metas, err := scanPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, m := range metas {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: m.Name, Kind: "resource", Version: semverish(m.Version), Server: m.Server,
		})
	}
	return resp, nil
}

func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	metas, err := scanPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, m := range metas {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: m.Name, Kind: "resource", Version: semverish(m.Version), Server: m.Server,
		})
	}
	return resp, nil
}

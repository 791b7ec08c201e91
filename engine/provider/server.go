// The ResourceProviderServer methods: config, check, diff, the resource
// lifecycle (create, update, delete, read) and the local.run invoke.

package main

import (
	"context"
	"fmt"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (s *server) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"command","version":%q}`, version)}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func typeOf(urn string) string { return string(resource.URN(urn).Type()) }

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	fail := func(p, r string) { failures = append(failures, &pulumirpc.CheckFailure{Property: p, Reason: r}) }
	switch typeOf(req.GetUrn()) {
	case tRemoteCommand, tCopyToRemote, tCopyFile:
		if _, ok := news["connection"]; !ok {
			fail("connection", "missing required property 'connection'")
		}
	case tLocalCommand:
	default:
		return nil, fmt.Errorf("unknown resource type %q", typeOf(req.GetUrn()))
	}
	switch typeOf(req.GetUrn()) {
	case tCopyToRemote:
		if _, ok := news["remotePath"]; !ok {
			fail("remotePath", "missing required property 'remotePath'")
		}
		if src, ok := news["source"]; ok && !src.ContainsUnknowns() {
			src = plain(src)
			switch {
			case src.IsAsset():
				if a := src.AssetValue(); !a.IsPath() && !a.IsText() {
					fail("source", "asset must be a path-based file asset or a text asset")
				}
			case src.IsArchive():
				if a := src.ArchiveValue(); !a.IsPath() {
					fail("source", "archive must be a path to a file or directory")
				}
			default:
				fail("source", "source must be an asset or an archive")
			}
		} else if !ok {
			fail("source", "missing required property 'source'")
		}
	case tCopyFile:
		for _, k := range []string{"localPath", "remotePath"} {
			if _, ok := news[resource.PropertyKey(k)]; !ok {
				fail(k, "missing required property '"+k+"'")
			}
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldsStruct := req.GetOldInputs()
	if oldsStruct == nil {
		oldsStruct = req.GetOlds()
	}
	olds, err := unmarshal(oldsStruct)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignore := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignore[k] = true
	}
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	resp := &pulumirpc.DiffResponse{DetailedDiff: map[string]*pulumirpc.PropertyDiff{}, HasDetailedDiff: true}
	var sorted []string
	for k := range keys {
		if !outputOnly[k] && !ignore[string(k)] {
			sorted = append(sorted, string(k))
		}
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		o, hasO := olds[resource.PropertyKey(k)]
		n, hasN := news[resource.PropertyKey(k)]
		if hasO && hasN && !n.ContainsUnknowns() && plainDeep(o).DeepEquals(plainDeep(n)) {
			continue
		}
		if hasO && !hasN && plain(o).IsNull() || !hasO && hasN && plain(n).IsNull() {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !hasO:
			kind = pulumirpc.PropertyDiff_ADD
		case !hasN:
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if k == "triggers" {
			kind += pulumirpc.PropertyDiff_ADD_REPLACE - pulumirpc.PropertyDiff_ADD
			resp.Replaces = append(resp.Replaces, k)
		}
		resp.Diffs = append(resp.Diffs, k)
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	} else {
		resp.Changes = pulumirpc.DiffResponse_DIFF_NONE
	}
	return resp, nil
}

// plainDeep strips secret markers at every level, so a value that only
// changed its secretness does not count as a change.
func plainDeep(v resource.PropertyValue) resource.PropertyValue {
	v = plain(v)
	switch {
	case v.IsArray():
		var out []resource.PropertyValue
		for _, e := range v.ArrayValue() {
			out = append(out, plainDeep(e))
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = plainDeep(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

func initFailed(id string, state, inputs resource.PropertyMap, cause error) error {
	st, err := marshal(state)
	if err != nil {
		return cause
	}
	in, err := marshal(inputs)
	if err != nil {
		return cause
	}
	return rpcerror.WithDetails(
		rpcerror.New(codes.Unknown, cause.Error()),
		&pulumirpc.ErrorResourceInitFailed{Id: id, Properties: st, Reasons: []string{cause.Error()}, Inputs: in},
	)
}

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	state := copyMap(inputs)
	t := typeOf(req.GetUrn())
	if req.GetPreview() {
		if t == tLocalCommand || t == tRemoteCommand {
			state["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
			state["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
		}
		out, err := marshal(state)
		return &pulumirpc.CreateResponse{Properties: out}, err
	}
	prefix := urn.Name()
	if t == tCopyToRemote || t == tCopyFile {
		prefix = ""
	}
	id, err := resource.NewUniqueHex(prefix, 8, 0)
	if err != nil {
		return nil, err
	}
	switch t {
	case tLocalCommand, tRemoteCommand:
		if cmd, ok := str(inputs, "create"); ok {
			err = s.runInto(ctx, urn, t, inputs, cmd, nil, state)
		}
	case tCopyToRemote, tCopyFile:
		err = s.copy(ctx, urn, t, inputs)
	}
	if err != nil {
		if t == tCopyToRemote || t == tCopyFile {
			return nil, err
		}
		return nil, initFailed(id, state, inputs, err)
	}
	out, err := marshal(state)
	return &pulumirpc.CreateResponse{Id: id, Properties: out}, err
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	t := typeOf(req.GetUrn())
	state := copyMap(news)
	for k := range outputOnly {
		if v, ok := olds[k]; ok {
			state[k] = v
		}
	}
	if req.GetPreview() {
		out, err := marshal(state)
		return &pulumirpc.UpdateResponse{Properties: out}, err
	}
	switch t {
	case tLocalCommand, tRemoteCommand:
		cmd, ok := str(news, "update")
		if !ok {
			cmd, ok = str(news, "create")
		}
		if ok {
			err = s.runInto(ctx, urn, t, news, cmd, olds, state)
		}
	case tCopyToRemote, tCopyFile:
		err = s.copy(ctx, urn, t, news)
	}
	if err != nil {
		if t == tCopyToRemote || t == tCopyFile {
			return nil, err
		}
		return nil, initFailed(req.GetId(), state, news, err)
	}
	out, err := marshal(state)
	return &pulumirpc.UpdateResponse{Properties: out}, err
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	props, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	t := typeOf(req.GetUrn())
	if t != tLocalCommand && t != tRemoteCommand {
		return &emptypb.Empty{}, nil
	}
	cmd, ok := str(props, "delete")
	if !ok {
		return &emptypb.Empty{}, nil
	}
	_, _, err = s.run(ctx, resource.URN(req.GetUrn()), t, props, cmd, props)
	return &emptypb.Empty{}, err
}

func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (s *server) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != tLocalRun {
		return nil, fmt.Errorf("unknown function %q", req.GetTok())
	}
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	cmd, ok := str(args, "command")
	if !ok {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{
			Property: "command", Reason: "missing required property 'command'",
		}}}, nil
	}
	state := copyMap(args)
	if err := s.runInto(ctx, "", tLocalRun, args, cmd, nil, state); err != nil {
		return nil, err
	}
	out, err := marshal(state)
	return &pulumirpc.InvokeResponse{Return: out}, err
}

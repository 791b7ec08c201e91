// Stand-in for the pulumi-command resource provider (plugin name
// "command"), written for offline tests because the provider's Go module is
// not published on the module proxy this machine can reach. It serves the
// resource types and invoke of the pulumi-command Python SDK:
// command:local:Command, command:local:run, command:remote:Command,
// command:remote:CopyToRemote and command:remote:CopyFile, following the
// published provider's documented behaviour: a change to `triggers`
// replaces the resource, any other input change runs `update` (or `create`
// when no `update` is given), `delete` runs on destroy, stdout and stderr
// are returned without their final newline, and the previous outputs are
// passed as PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR.
package main

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

var version = "0.0.0-dev"

const (
	tLocalCommand  = "command:local:Command"
	tLocalRun      = "command:local:run"
	tRemoteCommand = "command:remote:Command"
	tCopyToRemote  = "command:remote:CopyToRemote"
	tCopyFile      = "command:remote:CopyFile"
)

// Properties that are outputs only; they never take part in diffs.
var outputOnly = map[resource.PropertyKey]bool{"stdout": true, "stderr": true, "assets": true, "archive": true}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host *provider.HostClient
}

func main() {
	err := provider.Main("command", func(h *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &server{host: h}, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var opts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, opts)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, opts)
}

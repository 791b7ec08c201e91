// Minimal Python language host for the Pulumi engine, written for offline
// test use. It resolves the Python interpreter with the SDK's toolchain
// package and runs programs through the SDK's pulumi-language-python-exec
// shim, which must sit next to this binary.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

var version = "0.0.0-dev"

// exitCodeAlreadyReported is what the exec shim returns after it has shown
// the user an error itself.
const exitCodeAlreadyReported = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
	execShim      string
}

func main() {
	h := &host{}
	valueFlags := map[string]bool{"tracing": true, "root": true, "binary": true,
		"virtualenv": true, "typechecker": true, "toolchain": true, "use-executor": true}
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if h.engineAddress == "" {
				h.engineAddress = a
			}
			continue
		}
		name := strings.TrimLeft(a, "-")
		val := ""
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val = k, v
		} else if valueFlags[name] && i+1 < len(args) {
			i++
			val = args[i]
		}
		switch name {
		case "tracing":
			h.tracing = val
		case "use-executor":
			h.execShim = val
		}
	}
	if h.execShim == "" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "cannot locate own executable:", err)
			os.Exit(1)
		}
		h.execShim = filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "could not start language host RPC server:", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintln(os.Stderr, "language host RPC stopped serving:", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Ensure the interface is satisfied at compile time.
var _ pulumirpc.LanguageRuntimeServer = (*host)(nil)

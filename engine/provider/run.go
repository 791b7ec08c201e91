// Running a command locally or over SSH, streaming its output to the engine
// log, and collecting local.Command assets and archives.

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
)

// runInto runs cmd and stores stdout/stderr (and, for local commands, the
// collected assets) into state.
func (s *server) runInto(ctx context.Context, urn resource.URN, t string, inputs resource.PropertyMap,
	cmd string, previous resource.PropertyMap, state resource.PropertyMap,
) error {
	stdout, stderr, err := s.run(ctx, urn, t, inputs, cmd, previous)
	if err != nil {
		return err
	}
	state["stdout"] = resource.NewStringProperty(stdout)
	state["stderr"] = resource.NewStringProperty(stderr)
	if t == tLocalCommand || t == tLocalRun {
		return collectAssets(inputs, state)
	}
	return nil
}

// lineLogger forwards each complete line written to it to the engine log.
type lineLogger struct {
	s   *server
	ctx context.Context
	urn resource.URN
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.emit(strings.TrimSuffix(line, "\n"))
	}
}

func (l *lineLogger) emit(line string) {
	if l.s.host != nil && l.urn != "" {
		_ = l.s.host.LogStatus(l.ctx, diag.Info, l.urn, line)
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.emit(l.buf.String())
		l.buf.Reset()
	}
}

func (s *server) run(ctx context.Context, urn resource.URN, t string, inputs resource.PropertyMap,
	cmd string, previous resource.PropertyMap,
) (string, string, error) {
	env := strMap(inputs, "environment")
	if env == nil {
		env = map[string]string{}
	}
	if previous != nil && boolean(inputs, "addPreviousOutputInEnv", true) {
		if v, ok := str(previous, "stdout"); ok && v != "" {
			env["PULUMI_COMMAND_STDOUT"] = v
		}
		if v, ok := str(previous, "stderr"); ok && v != "" {
			env["PULUMI_COMMAND_STDERR"] = v
		}
	}
	stdin, _ := str(inputs, "stdin")
	logging, _ := str(inputs, "logging")
	if logging == "" {
		logging = "stdoutAndStderr"
	}

	var stdoutBuf, stderrBuf, both bytes.Buffer
	var mu sync.Mutex
	logger := &lineLogger{s: s, ctx: ctx, urn: urn}
	sink := func(own *bytes.Buffer, log bool) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			own.Write(p)
			both.Write(p)
			mu.Unlock()
			if log {
				_, _ = logger.Write(p)
			}
			return len(p), nil
		})
	}
	outW := sink(&stdoutBuf, logging == "stdout" || logging == "stdoutAndStderr")
	errW := sink(&stderrBuf, logging == "stderr" || logging == "stdoutAndStderr")

	var err error
	if t == tRemoteCommand {
		err = runRemote(ctx, inputs, cmd, env, stdin, outW, errW)
	} else {
		err = runLocal(ctx, inputs, cmd, env, stdin, outW, errW)
	}
	logger.flush()
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, cmd, both.String())
	}
	return strings.TrimSuffix(stdoutBuf.String(), "\n"), strings.TrimSuffix(stderrBuf.String(), "\n"), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func runLocal(ctx context.Context, inputs resource.PropertyMap, cmd string, env map[string]string,
	stdin string, outW, errW io.Writer,
) error {
	interp := strList(inputs, "interpreter")
	if len(interp) == 0 {
		interp = []string{"/bin/sh", "-c"}
	}
	c := exec.CommandContext(ctx, interp[0], append(append([]string{}, interp[1:]...), cmd)...)
	if dir, ok := str(inputs, "dir"); ok && dir != "" {
		c.Dir = dir
	}
	c.Env = os.Environ()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.Env = append(c.Env, k+"="+env[k])
	}
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	c.Stdout = outW
	c.Stderr = errW
	return c.Run()
}

// collectAssets fills the `assets` and `archive` outputs of a local command
// from its assetPaths / archivePaths globs (relative to dir; "!" excludes).
func collectAssets(inputs, state resource.PropertyMap) error {
	dir, _ := str(inputs, "dir")
	if dir == "" {
		dir = "."
	}
	match := func(patterns []string) ([]string, error) {
		set := map[string]bool{}
		for _, p := range patterns {
			exclude := strings.HasPrefix(p, "!")
			p = strings.TrimPrefix(p, "!")
			found, err := filepath.Glob(filepath.Join(dir, p))
			if err != nil {
				return nil, err
			}
			for _, f := range found {
				if fi, err := os.Stat(f); err != nil || fi.IsDir() {
					continue
				}
				rel, err := filepath.Rel(dir, f)
				if err != nil {
					return nil, err
				}
				if exclude {
					delete(set, rel)
				} else {
					set[rel] = true
				}
			}
		}
		var out []string
		for f := range set {
			out = append(out, f)
		}
		sort.Strings(out)
		return out, nil
	}
	if pats := strList(inputs, "assetPaths"); len(pats) > 0 {
		files, err := match(pats)
		if err != nil {
			return err
		}
		assets := resource.PropertyMap{}
		for _, f := range files {
			a, err := asset.FromPath(filepath.Join(dir, f))
			if err != nil {
				return err
			}
			assets[resource.PropertyKey(f)] = resource.NewAssetProperty(a)
		}
		state["assets"] = resource.NewObjectProperty(assets)
	}
	if pats := strList(inputs, "archivePaths"); len(pats) > 0 {
		files, err := match(pats)
		if err != nil {
			return err
		}
		members := map[string]any{}
		for _, f := range files {
			a, err := asset.FromPath(filepath.Join(dir, f))
			if err != nil {
				return err
			}
			members[f] = a
		}
		ar, err := archive.FromAssets(members)
		if err != nil {
			return err
		}
		state["archive"] = resource.NewArchiveProperty(ar)
	}
	return nil
}

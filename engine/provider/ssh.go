// SSH connections (password, private key, agent, proxy jump) and remote
// command execution.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func sshConfig(conn resource.PropertyMap) (*ssh.ClientConfig, string, error) {
	host, ok := str(conn, "host")
	if !ok || host == "" {
		return nil, "", errors.New("connection: missing required property 'host'")
	}
	port := int(num(conn, "port", 22))
	user, _ := str(conn, "user")
	if user == "" {
		user = "root"
	}
	timeout := time.Duration(num(conn, "perDialTimeout", 15)) * time.Second
	cfg := &ssh.ClientConfig{User: user, Timeout: timeout, HostKeyCallback: ssh.InsecureIgnoreHostKey()} //nolint:gosec
	if hk, ok := str(conn, "hostKey"); ok && hk != "" {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hk))
		if err != nil {
			return nil, "", fmt.Errorf("connection: parsing hostKey: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(pub)
	}
	if pk, ok := str(conn, "privateKey"); ok && pk != "" {
		var signer ssh.Signer
		var err error
		if pass, ok := str(conn, "privateKeyPassword"); ok && pass != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(pk), []byte(pass))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(pk))
		}
		if err != nil {
			return nil, "", fmt.Errorf("connection: parsing privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if pw, ok := str(conn, "password"); ok && pw != "" {
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i := range ans {
					ans[i] = pw
				}
				return ans, nil
			}))
	}
	sock, _ := str(conn, "agentSocketPath")
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
		}
	}
	return cfg, net.JoinHostPort(host, fmt.Sprint(port)), nil
}

func dial(ctx context.Context, conn resource.PropertyMap) (*ssh.Client, error) {
	cfg, addr, err := sshConfig(conn)
	if err != nil {
		return nil, err
	}
	limit := int(num(conn, "dialErrorLimit", 10))
	var proxyCfg *ssh.ClientConfig
	var proxyAddr string
	if p, ok := obj(conn, "proxy"); ok {
		if proxyCfg, proxyAddr, err = sshConfig(p); err != nil {
			return nil, fmt.Errorf("proxy %w", err)
		}
	}
	var lastErr error
	for attempt := 1; limit < 0 || attempt <= max(limit, 1); attempt++ {
		var client *ssh.Client
		if proxyCfg == nil {
			client, lastErr = ssh.Dial("tcp", addr, cfg)
		} else {
			var pc *ssh.Client
			pc, lastErr = ssh.Dial("tcp", proxyAddr, proxyCfg)
			if lastErr == nil {
				var nc net.Conn
				nc, lastErr = pc.Dial("tcp", addr)
				if lastErr == nil {
					var c ssh.Conn
					var chans <-chan ssh.NewChannel
					var reqs <-chan *ssh.Request
					c, chans, reqs, lastErr = ssh.NewClientConn(nc, addr, cfg)
					if lastErr == nil {
						client = ssh.NewClient(c, chans, reqs)
					}
				}
			}
		}
		if lastErr == nil {
			return client, nil
		}
		if limit >= 0 && attempt >= max(limit, 1) {
			break
		}
		delay := time.Duration(min(attempt, 5)) * time.Second
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
	return nil, fmt.Errorf("dial %s: %w", addr, lastErr)
}

func runRemote(ctx context.Context, inputs resource.PropertyMap, cmd string, env map[string]string,
	stdin string, outW, errW io.Writer,
) error {
	conn, ok := obj(inputs, "connection")
	if !ok {
		return errors.New("missing required property 'connection'")
	}
	client, err := dial(ctx, conn)
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	for k, v := range env {
		// Like the published provider: variables the server refuses
		// (sshd AcceptEnv) are silently dropped.
		_ = session.Setenv(k, v)
	}
	if stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	session.Stdout = outW
	session.Stderr = errW
	return session.Run(cmd)
}

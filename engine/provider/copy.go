// remote.CopyToRemote and remote.CopyFile: copying local files, assets and
// archives to the remote host over SFTP.

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func (s *server) copy(ctx context.Context, urn resource.URN, t string, inputs resource.PropertyMap) error {
	conn, ok := obj(inputs, "connection")
	if !ok {
		return errors.New("missing required property 'connection'")
	}
	remotePath, _ := str(inputs, "remotePath")
	client, err := dial(ctx, conn)
	if err != nil {
		return err
	}
	defer client.Close()
	sc, err := sftp.NewClient(client)
	if err != nil {
		return err
	}
	defer sc.Close()

	if t == tCopyFile {
		local, _ := str(inputs, "localPath")
		return sftpCopy(sc, local, remotePath)
	}
	src := plain(inputs["source"])
	switch {
	case src.IsAsset() && src.AssetValue().IsText():
		if st, err := remoteStat(sc, remotePath); err != nil {
			return err
		} else if st != nil && st.IsDir() {
			return fmt.Errorf("remote path %s is a directory; when using a text asset, remotePath must be a file path",
				remotePath)
		}
		f, err := sc.Create(remotePath)
		if err != nil {
			return fmt.Errorf("failed to create remote file %s: %w", remotePath, err)
		}
		defer f.Close()
		_, err = f.Write([]byte(src.AssetValue().Text))
		return err
	case src.IsAsset():
		return sftpCopy(sc, src.AssetValue().Path, remotePath)
	case src.IsArchive():
		return sftpCopy(sc, src.ArchiveValue().Path, remotePath)
	}
	return errors.New("source must be a file asset, a text asset or a path archive")
}

func remoteStat(sc *sftp.Client, p string) (fs.FileInfo, error) {
	fi, err := sc.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("failed to stat remote path %s: %w", p, err)
	}
	if err != nil {
		return nil, nil
	}
	return fi, nil
}

// sftpCopy copies a local file or directory. A directory "d" lands at
// dest/d; "d/" (trailing slash) copies its contents into dest. A file
// copied onto an existing directory lands inside it.
func sftpCopy(sc *sftp.Client, src, dest string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	st, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if st != nil && st.IsDir() {
			dest = path.Join(dest, filepath.Base(src))
		}
		return copyOne(sc, src, dest)
	}
	if st != nil && !st.IsDir() {
		return fmt.Errorf("remote path %s exists but is not a directory", dest)
	}
	if st == nil {
		if err := sc.MkdirAll(dest); err != nil {
			return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
		}
	}
	if !strings.HasSuffix(src, "/") {
		dest = path.Join(dest, filepath.Base(src))
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dest, filepath.ToSlash(rel))
		if d.IsDir() {
			st, err := remoteStat(sc, target)
			if err != nil {
				return err
			}
			if st == nil {
				return sc.MkdirAll(target)
			}
			if !st.IsDir() {
				return fmt.Errorf("remote path %s exists but is not a directory", target)
			}
			return nil
		}
		return copyOne(sc, p, target)
	})
}

func copyOne(sc *sftp.Client, src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := sc.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	defer out.Close()
	if _, err := out.ReadFrom(bufio.NewReader(in)); err != nil {
		return fmt.Errorf("failed to copy file %s to remote path %s: %w", src, dest, err)
	}
	if fi, err := os.Stat(src); err == nil {
		_ = sc.Chmod(dest, fi.Mode().Perm())
	}
	return nil
}

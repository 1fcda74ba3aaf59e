package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// List implements [backend.Backend]. It walks only the directories that can
// hold names with the prefix, in directory order (lexical per directory), and
// skips temporary files and anything that is not a regular file with a valid
// name. A store whose directory is gone fails with [backend.ErrUnavailable]
// rather than listing nothing.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	if err := backend.ValidatePrefix(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: list %q: %w", prefix, err)
	}
	if err := b.checkRoot("list", strconv.Quote(prefix)); err != nil {
		return err
	}
	start := b.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(b.root, filepath.FromSlash(prefix[:i]))
	}
	var fnErr error
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) && !b.rootGone() {
				return nil // vanished, or no such directory: nothing to list
			}
			// The whole store is gone (unmounted, say): an empty listing
			// would tell rebuild-index there is nothing on it.
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path == b.root {
			return nil
		}
		rel := filepath.ToSlash(path[len(b.root)+1:])
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if strings.HasPrefix(rel+"/", prefix) || strings.HasPrefix(prefix, rel+"/") {
				return nil
			}
			return fs.SkipDir
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(rel, prefix) || backend.Name(rel).Validate() != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			return err
		}
		if err := fn(backend.Info{Name: backend.Name(rel), Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil && errors.Is(err, fnErr):
		return fnErr
	}
	return b.wrapErr("list", fmt.Sprintf("%q", prefix), err)
}

// CleanTemp removes temporary files older than olderThan, left behind by Puts
// that died between writing and renaming. It returns how many it removed.
// Give olderThan well above the longest Put (an hour is plenty): a younger
// temporary file may belong to a Put in progress.
func (b *Backend) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	err := filepath.WalkDir(b.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, b.wrapErr("clean temp", "files", err)
	}
	return removed, nil
}

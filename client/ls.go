package client

import (
	"context"
	"strings"

	"github.com/holdfast-backup/holdfast/format/tree"
)

// Ls calls fn for the entry at path p of snap and, when it is a directory,
// for everything below it, in pre-order with names in byte order. Paths
// given to fn start with "/" and are relative to the snapshot root. p ""
// or "/" is the root, which has no entry of its own: fn then sees what the
// root holds. A p that does not exist wraps ErrNotInSnapshot; symlinks in p
// are never followed.
func (r *Repository) Ls(ctx context.Context, snap Snapshot, p string, fn func(path string, e *tree.Entry) error) error {
	names, err := splitPath(p)
	if err != nil {
		return err
	}
	root := snap.Header.Root
	if len(names) > 0 {
		e, err := r.lookup(ctx, root, names)
		if err != nil {
			return err
		}
		full := strings.Join(names, "/")
		if err := fn("/"+full, e); err != nil || e.Type != tree.Dir {
			return err
		}
		return r.walk(ctx, e.Subtree, full, 1, func(q string, e *tree.Entry) (bool, error) {
			return true, fn("/"+q, e)
		})
	}
	return r.walk(ctx, root, "", 0, func(q string, e *tree.Entry) (bool, error) {
		return true, fn("/"+q, e)
	})
}

package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/internal/envbuf"
)

// bkPrev gives the previous snapshot's listing of a directory, which the
// walker compares files with. The three sources are the local cache, the
// parent's trees on the server, and nothing (first backup).
type bkPrev interface {
	// dir returns the listing of the directory at rel below the root
	// ("" for the root), whose entry in the previous snapshot is e (nil
	// for the root), by name. A nil map means nothing is known.
	dir(ctx context.Context, rel string, e *tree.Entry) (map[string]*tree.Entry, error)
	close()
}

type bkPrevNone struct{}

func (bkPrevNone) dir(context.Context, string, *tree.Entry) (map[string]*tree.Entry, error) {
	return nil, nil
}
func (bkPrevNone) close() {}

// bkPrevParent fetches the parent's trees from the server, one directory at
// a time as the walk reaches it: one ReadChunks call per directory.
type bkPrevParent struct {
	r    *Repository
	root []tree.Extent
}

func (p *bkPrevParent) dir(ctx context.Context, rel string, e *tree.Entry) (map[string]*tree.Entry, error) {
	exts := p.root
	if rel != "" {
		if e == nil || e.Type != tree.Dir {
			return nil, nil
		}
		exts = e.Subtree
	}
	entries, err := p.r.bkFetchTree(ctx, exts)
	if err != nil {
		return nil, err
	}
	return bkByName(entries), nil
}

func (p *bkPrevParent) close() {}

func bkByName(entries []tree.Entry) map[string]*tree.Entry {
	m := make(map[string]*tree.Entry, len(entries))
	for i := range entries {
		m[entries[i].Name] = &entries[i]
	}
	return m
}

// bkFetchTree reads the tree chunks exts from the server, opens them and
// decodes the directory listing they hold.
func (r *Repository) bkFetchTree(ctx context.Context, exts []tree.Extent) ([]tree.Entry, error) {
	if err := tree.ValidateSubtree(exts); err != nil {
		return nil, format.Corruptf("tree extents: %v", err)
	}
	ids := make([][]byte, len(exts))
	var total uint64
	for i := range exts {
		ids[i] = exts[i].ID[:]
		total += exts[i].Length
	}
	stream, err := r.Chunks.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: r.Repo(), Ids: ids}))
	if err != nil {
		return nil, fromRPC("read tree", err)
	}
	defer stream.Close()
	buf := make([]byte, 0, total)
	i := 0
	for stream.Receive() {
		if i >= len(exts) {
			return nil, format.Corruptf("read tree: the server sent more chunks than asked for")
		}
		x := exts[i]
		if string(stream.Msg().Id) != string(x.ID[:]) {
			return nil, format.Corruptf("read tree: chunk %d is not %s", i, x.ID.Short())
		}
		n := len(buf)
		// Either type: the ID proves the bytes (SPEC.md §5.4).
		buf, _, err = r.Sealer.Open(buf, x.ID, stream.Msg().Envelope)
		envbuf.Put(stream.Msg().Envelope) // a pooled buffer (rpccodec), done with
		if err != nil {
			return nil, fmt.Errorf("tree chunk %s: %w", x.ID.Short(), err)
		}
		if uint64(len(buf)-n) != x.Length {
			return nil, format.Corruptf("tree chunk %s: %d bytes, want %d", x.ID.Short(), len(buf)-n, x.Length)
		}
		i++
	}
	if err := stream.Err(); err != nil {
		return nil, fromRPC("read tree", err)
	}
	if i != len(exts) {
		return nil, format.Corruptf("read tree: got %d of %d chunks", i, len(exts))
	}
	return tree.Decode(buf)
}

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// VerifyResult counts what Verify checked and lists what is wrong, one
// line per problem.
type VerifyResult struct {
	Snapshots  int   // snapshots whose header verified
	Trees      int64 // distinct directory listings decoded
	DataChunks int64 // distinct data chunks referenced
	ChunksRead int64 // data chunks fetched and opened (with readData)
	BytesRead  int64 // their plaintext bytes
	Problems   []string
	// MoreProblems counts problems beyond the first maxProblems.
	MoreProblems int64
}

const maxProblems = 10_000

// Verify checks the whole repository from the client side, where the keys
// are. For every snapshot: the header's MAC and ID; its reference list
// (order, count and checksum against the header); every directory listing
// it reaches decodes (each chunk authenticated, each entry valid, the
// trailer intact); and every chunk the trees use is in the snapshot's
// reference list, which is what keeps the server's GC from deleting it.
// With readData every distinct data chunk is also fetched, opened and its
// plaintext checked against its ID and the length the tree states.
//
// Listings shared by several snapshots are decoded once; such a listing is
// checked against the reference list of the first snapshot that reaches
// it. Problems (damage, missing chunks) go into the result; the error is
// for what stops the check (no access, server gone, context ended).
func (r *Repository) Verify(ctx context.Context, readData bool) (*VerifyResult, error) {
	v := &verifier{r: r, ctx: ctx, readData: readData,
		res: &VerifyResult{}, trees: map[string]struct{}{}, data: map[format.ID]uint64{}}
	snaps, err := v.listSnapshots()
	if err != nil {
		return nil, err
	}
	if readData {
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		v.reader = r.NewChunkReader(rctx, ReadOptions{})
		defer v.reader.Close()
		v.done = make(chan error, 1)
		go func() {
			err := v.checkData()
			if err != nil {
				cancel() // unblocks the walker's Push
			}
			v.done <- err
		}()
	}
	var werr error
	for _, s := range snaps {
		if werr = v.snapshot(s); werr != nil {
			break
		}
	}
	if readData {
		v.reader.CloseSend()
		if err := <-v.done; werr == nil {
			werr = err
		}
	}
	if werr != nil {
		return v.result(), werr
	}
	return v.result(), nil
}

type verifier struct {
	r        *Repository
	ctx      context.Context
	readData bool
	reader   *ChunkReader
	done     chan error

	trees map[string]struct{}  // listings decoded (key: their chunk IDs)
	data  map[format.ID]uint64 // data chunks seen → length
	refs  []format.ID          // current snapshot's reference list, sorted
	snap  string               // current snapshot, short ID

	mu  sync.Mutex
	res *VerifyResult
}

func (v *verifier) problem(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.res.Problems) >= maxProblems {
		v.res.MoreProblems++
		return
	}
	v.res.Problems = append(v.res.Problems, fmt.Sprintf(format, args...))
}

func (v *verifier) result() *VerifyResult {
	v.mu.Lock()
	defer v.mu.Unlock()
	res := *v.res
	res.Problems = slices.Clone(v.res.Problems)
	return &res
}

// fatal reports errors that stop the check rather than describe damage.
func (v *verifier) fatal(err error) bool {
	return v.ctx.Err() != nil || errors.Is(err, ErrDenied)
}

// listSnapshots lists every snapshot, checking each header on its own so
// one bad header is a problem, not the end of the check.
func (v *verifier) listSnapshots() ([]Snapshot, error) {
	return v.r.listSnapshots(v.ctx, func(err error) error {
		v.problem("%v", err)
		return nil
	})
}

func (v *verifier) snapshot(s Snapshot) error {
	v.mu.Lock()
	v.res.Snapshots++
	v.mu.Unlock()
	v.snap = s.ID.Short()
	refs, err := v.readRefs(s)
	if err != nil {
		if v.fatal(err) {
			return err
		}
		v.problem("snapshot %s: reference list: %v", v.snap, err)
	}
	v.refs = refs
	return v.dir(s.Header.Root, "", 0)
}

// readRefs reads a snapshot's reference list and checks it against the
// header (count and checksum, which the MAC covers).
func (v *verifier) readRefs(s Snapshot) ([]format.ID, error) {
	stream, err := v.r.Conn.Snapshots.ReadRefs(v.ctx, connect.NewRequest(&holdfastv1.ReadRefsRequest{Repo: v.r.Repo(), Id: s.ID[:]}))
	if err != nil {
		return nil, fromRPC("read refs", err)
	}
	defer stream.Close()
	rw := snapshot.NewRefWriter(io.Discard, s.Header.RefCount)
	refs := make([]format.ID, 0, min(s.Header.RefCount, 1<<20))
	for stream.Receive() {
		for _, b := range stream.Msg().Ids {
			id, err := format.IDFromBytes(b)
			if err != nil {
				return nil, format.Corruptf("%v", err)
			}
			if err := rw.Add(id); err != nil {
				return nil, format.Corruptf("does not match the header: %v", err)
			}
			refs = append(refs, id)
		}
	}
	if err := stream.Err(); err != nil {
		return nil, fromRPC("read refs", err)
	}
	if err := rw.Close(); err != nil {
		return nil, format.Corruptf("does not match the header: %v", err)
	}
	if rw.Sum() != s.Header.RefsHash {
		return nil, format.Corruptf("checksum does not match the header")
	}
	return refs, nil
}

// inRefs checks that the snapshot's reference list holds id.
func (v *verifier) inRefs(id format.ID, p, what string) {
	if v.refs == nil {
		return // unreadable: reported already
	}
	if _, ok := slices.BinarySearchFunc(v.refs, id, format.ID.Compare); !ok {
		v.problem("snapshot %s: /%s: %s chunk %s is not in the snapshot's reference list", v.snap, p, what, id.Short())
	}
}

func treeKey(exts []tree.Extent) string {
	b := make([]byte, 0, len(exts)*format.IDSize)
	for _, x := range exts {
		b = append(b, x.ID[:]...)
	}
	return string(b)
}

// dir checks one listing and, the first time it is met, what it holds.
func (v *verifier) dir(exts []tree.Extent, p string, depth int) error {
	for _, x := range exts {
		v.inRefs(x.ID, p, "tree")
	}
	key := treeKey(exts)
	if _, seen := v.trees[key]; seen {
		return nil
	}
	v.trees[key] = struct{}{}
	v.mu.Lock()
	v.res.Trees++
	v.mu.Unlock()
	if depth > maxTreeDepth {
		v.problem("snapshot %s: /%s: directories nest deeper than %d levels (a cycle in the trees?)", v.snap, p, maxTreeDepth)
		return nil
	}
	for e, err := range v.r.Tree(v.ctx, exts) {
		if err != nil {
			if v.fatal(err) {
				return err
			}
			v.problem("snapshot %s: directory /%s: %v", v.snap, p, err)
			return nil
		}
		q := joinPath(p, e.Name)
		switch e.Type {
		case tree.Dir:
			if err := v.dir(e.Subtree, q, depth+1); err != nil {
				return err
			}
		case tree.File:
			if err := v.file(e, q); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v *verifier) file(e *tree.Entry, p string) error {
	for _, x := range e.Content {
		if x.Hole {
			continue
		}
		v.inRefs(x.ID, p, "data")
		if n, seen := v.data[x.ID]; seen {
			if n != x.Length {
				v.problem("snapshot %s: /%s: chunk %s is %d bytes here and %d bytes elsewhere", v.snap, p, x.ID.Short(), x.Length, n)
			}
			continue
		}
		v.data[x.ID] = x.Length
		v.mu.Lock()
		v.res.DataChunks++
		v.mu.Unlock()
		if v.readData {
			where := "snapshot " + v.snap + ": /" + p
			if err := v.reader.Push(ReadRequest{ID: x.ID, Length: x.Length, Type: seal.TypeData, Tag: where}); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkData takes the fetched data chunks: the reader has opened each and
// checked ID, type and length; a failure is a problem named by the first
// file that uses the chunk.
func (v *verifier) checkData() error {
	for {
		c, err := v.reader.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if c.Err != nil {
			v.problem("%s: %v", c.Tag, c.Err)
		} else {
			v.mu.Lock()
			v.res.ChunksRead++
			v.res.BytesRead += int64(len(c.Data))
			v.mu.Unlock()
		}
		c.Release()
	}
}

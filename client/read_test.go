package client

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/repotest"
)

// rsFlakyChunks fails calls with code: every call, or (once) the first
// call for each distinct request.
type rsFlakyChunks struct {
	holdfastv1connect.ChunkServiceClient
	code  connect.Code
	once  bool
	calls atomic.Int64
	mu    sync.Mutex
	seen  map[string]bool
}

func (c *rsFlakyChunks) ReadChunks(ctx context.Context, req *connect.Request[holdfastv1.ReadChunksRequest]) (*connect.ServerStreamForClient[holdfastv1.ReadChunksResponse], error) {
	c.calls.Add(1)
	fail := true
	if c.once {
		key := string(bytes.Join(req.Msg.Ids, nil))
		c.mu.Lock()
		fail = !c.seen[key]
		c.seen[key] = true
		c.mu.Unlock()
	}
	if fail {
		return nil, connect.NewError(c.code, errors.New("injected"))
	}
	return c.ChunkServiceClient.ReadChunks(ctx, req)
}

// TestReadTransientAndFatal: a stream refused as unavailable is retried;
// a refused token stops the restore with ErrDenied.
func TestReadTransientAndFatal(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	b := newRSBuilder(t, r)
	b.treeChunk = 100 // listings of several chunks
	nodes := rsSample()
	snap := b.commit(nodes, nil)
	real := r.Chunks

	defer func(d time.Duration) { readBackoff = d }(readBackoff)
	readBackoff = time.Millisecond
	flaky := &rsFlakyChunks{ChunkServiceClient: real, code: connect.CodeUnavailable, once: true, seen: map[string]bool{}}
	r.Chunks = flaky
	target := t.TempDir()
	if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target}); err != nil {
		t.Fatalf("restore over a flaky server: %v", err)
	}
	rsCheck(t, target, nodes, map[uint64]uint64{})
	if flaky.calls.Load() < 4 {
		t.Errorf("only %d ReadChunks calls", flaky.calls.Load())
	}

	// A budget smaller than one chunk still makes progress, one at a time.
	r.Chunks = real
	target = t.TempDir()
	if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target, ReadAhead: 1, Writers: 1}); err != nil {
		t.Fatalf("restore with a 1-byte budget: %v", err)
	}
	rsCheck(t, target, nodes, map[uint64]uint64{})

	r.Chunks = &rsFlakyChunks{ChunkServiceClient: real, code: connect.CodePermissionDenied}
	_, err := r.Restore(context.Background(), snap, RestoreOptions{Target: t.TempDir()})
	if !errors.Is(err, ErrDenied) {
		t.Errorf("restore with a refused token: %v, want ErrDenied", err)
	}
}

// rsVerifiedReads counts ReadChunks calls made without client_verifies.
type rsVerifiedReads struct {
	holdfastv1connect.ChunkServiceClient
	unverified, verified atomic.Int64
}

func (c *rsVerifiedReads) ReadChunks(ctx context.Context, req *connect.Request[holdfastv1.ReadChunksRequest]) (*connect.ServerStreamForClient[holdfastv1.ReadChunksResponse], error) {
	if req.Msg.ClientVerifies {
		c.unverified.Add(1)
	} else {
		c.verified.Add(1)
	}
	return c.ChunkServiceClient.ReadChunks(ctx, req)
}

// TestRestoreRefetchesDamagedRecord damages one chunk's record on disk.
// Restore streams ask the server not to check records, so the damaged
// envelope arrives and fails to open; the reader fetches that chunk again
// with the server's check, the server rebuilds it from the other shards,
// and the restore is bit-exact.
func TestRestoreRefetchesDamagedRecord(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	nodes := []*rsNode{rsFile("big.bin", 0o644, rsData(rsRandom(9, 300_000)))}
	snap := newRSBuilder(t, r).commit(nodes, nil)
	stores := map[uint16]backend.Backend{}
	for i, dir := range s.stores {
		b, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		stores[uint16(i)] = b
	}
	damaged := false
	for _, id := range rsIDs(r, nodes[0]) {
		if damaged = repotest.DamageRecord(t, s.eng, s.repo, id, stores); damaged {
			break
		}
	}
	if !damaged {
		t.Fatal("every record of the file spans two data shards")
	}
	counted := &rsVerifiedReads{ChunkServiceClient: r.Chunks}
	r.Chunks = counted
	target := t.TempDir()
	if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target}); err != nil {
		t.Fatalf("restore with a damaged record: %v", err)
	}
	rsCheck(t, target, nodes, map[uint64]uint64{})
	if counted.unverified.Load() == 0 || counted.verified.Load() != 1 {
		t.Errorf("%d streams without the server's check and %d with it, want some and 1",
			counted.unverified.Load(), counted.verified.Load())
	}
}

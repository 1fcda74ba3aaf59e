package client

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
)

// batchSpy passes ReadChunks calls on, counting those that ask for
// batched responses, and with unbatch set clears the request's batch, as
// a server from before batching would ignore it.
type batchSpy struct {
	holdfastv1connect.ChunkServiceClient
	unbatch bool
	calls   atomic.Int64
	batched atomic.Int64
}

func (s *batchSpy) ReadChunks(ctx context.Context, req *connect.Request[holdfastv1.ReadChunksRequest]) (*connect.ServerStreamForClient[holdfastv1.ReadChunksResponse], error) {
	s.calls.Add(1)
	if req.Msg.GetBatch() {
		s.batched.Add(1)
	}
	if s.unbatch {
		req.Msg.Batch = false
	}
	return s.ChunkServiceClient.ReadChunks(ctx, req)
}

// TestRestoreBatchedOrNot: the restore's chunk streams ask for batched
// responses, and a restore is bit-exact whether the server batches them
// or sends one chunk per message.
func TestRestoreBatchedOrNot(t *testing.T) {
	s := newRSServer(t)
	nodes := rsSample()
	snap := rsSnapshot(t, s.initRepo(t), nodes...)
	for _, unbatch := range []bool{false, true} {
		conn := s.conn("restore")
		spy := &batchSpy{ChunkServiceClient: conn.Chunks, unbatch: unbatch}
		conn.Chunks = spy
		r, err := Open(context.Background(), conn, []byte(rsPassword))
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "target")
		if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target}); err != nil {
			t.Fatalf("unbatch=%v: %v", unbatch, err)
		}
		rsCheck(t, target, nodes, map[uint64]uint64{})
		if spy.calls.Load() == 0 || spy.batched.Load() != spy.calls.Load() {
			t.Errorf("unbatch=%v: %d of %d ReadChunks calls asked for batches", unbatch, spy.batched.Load(), spy.calls.Load())
		}
	}
}

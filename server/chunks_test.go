package server

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/repotest"
)

// storeFakeChunks puts n fake envelopes of 1..maxSize bytes straight into
// the engine and flushes them.
func storeFakeChunks(t testing.TB, f *upFixture, n, maxSize int) []upChunk {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(maxSize)))
	out := make([]upChunk, n)
	for i := range out {
		out[i] = upChunk{id: randomID(), env: fakeEnvelope(64 + rng.IntN(maxSize-64))}
		if _, err := f.eng.PutChunk(ctx, f.id, out[i].id, out[i].env); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.eng.Flush(ctx, f.id); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadChunksOrder reads 500 chunks (about 64 MiB, twice the read-ahead
// budget) in an order unlike storage order, with repeats, over both
// protocols, and checks they arrive in exactly that order.
func TestReadChunksOrder(t *testing.T) {
	f := newUpFixture(t, upOptions{packTarget: 4 << 20})
	chunks := storeFakeChunks(t, f, 500, 256<<10)
	want := append([]upChunk(nil), chunks...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(want), func(i, j int) { want[i], want[j] = want[j], want[i] })
	want = append(want, want[7], want[3], want[7])
	for _, grpc := range []bool{false, true} {
		f.client(f.restore, grpc).mustReadBack(t, want)
	}
	var total uint64
	for _, c := range want {
		total += uint64(len(c.env))
	}
	if got := f.srv.metrics.BytesOut.Load(); got != 2*total {
		t.Fatalf("BytesOut %d, want %d", got, 2*total)
	}
}

// TestReadAheadBudget stalls the consumer and checks that the workers stop
// reading at the byte budget, then that everything arrives in order.
func TestReadAheadBudget(t *testing.T) {
	f := newUpFixture(t, upOptions{packTarget: 4 << 20})
	chunks := storeFakeChunks(t, f, 300, 512<<10)
	ids := make([]format.ID, len(chunks))
	for i := range chunks {
		ids[i] = chunks[i].id
	}
	s := &ChunkService{f.srv}
	cs, err := f.srv.repo.NewChunkStream(f.id)
	if err != nil {
		t.Fatal(err)
	}
	ra := s.startReadAhead(context.Background(), cs, ids)
	defer ra.stop()
	// The dispatcher runs into the budget (it is within one chunk of it)
	// and then stays there while nobody consumes.
	const maxChunk = 512 << 10
	settle(t, "read-ahead to fill its budget", func() bool { return ra.inflight.Load() > ReadAheadBytes-maxChunk })
	full := ra.inflight.Load()
	time.Sleep(200 * time.Millisecond)
	if got := ra.inflight.Load(); got != full || got > ReadAheadBytes {
		t.Fatalf("%d bytes in flight with a stalled consumer (was %d); budget %d", got, full, ReadAheadBytes)
	}
	for i := range chunks {
		j, err := ra.next()
		if err != nil {
			t.Fatal(err)
		}
		if j.err != nil || j.id != chunks[i].id || string(j.env) != string(chunks[i].env) {
			t.Fatalf("job %d: %v", i, j.err)
		}
		if got := ra.inflight.Load(); got > ReadAheadBytes {
			t.Fatalf("%d bytes in flight; budget %d", got, ReadAheadBytes)
		}
		ra.release(j.size)
	}
	ra.stop()
	if n := readAheadLive.Load(); n != 0 {
		t.Fatalf("%d read-ahead goroutines after stop", n)
	}
}

// TestReadChunksCancel cancels a restore stream mid-way: the read-ahead
// goroutines must all exit and the process's goroutine count settle back.
func TestReadChunksCancel(t *testing.T) {
	f := newUpFixture(t, upOptions{packTarget: 4 << 20})
	chunks := storeFakeChunks(t, f, 500, 128<<10)
	c := f.client(f.restore, false)
	c.mustReadBack(t, chunks[:3]) // open the connection first
	base := runtime.NumGoroutine()

	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		raw := make([][]byte, len(chunks))
		for i := range chunks {
			raw[i] = chunks[i].id[:]
		}
		st, err := c.chunk.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: f.repo, Ids: raw}))
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if !st.Receive() {
				t.Fatal(st.Err())
			}
		}
		cancel()
		for st.Receive() {
		}
		st.Close()
	}
	settle(t, "read-ahead goroutines", func() bool { return readAheadLive.Load() == 0 })
	settle(t, "goroutines", func() bool { return runtime.NumGoroutine() <= base })
	c.mustReadBack(t, chunks[:10]) // and the server still serves
}

// settle waits up to 10 s for cond.
func settle(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%s did not settle (now %d goroutines, %d read-ahead)\n%s",
				what, runtime.NumGoroutine(), readAheadLive.Load(), buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestReadChunksDataLoss destroys two of the three stores (k=2, m=1): a
// chunk can no longer be rebuilt, and the stream ends with DataLoss naming
// it, without internal details.
func TestReadChunksDataLoss(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	chunks := storeFakeChunks(t, f, 4, 4<<10)
	for _, s := range f.stores[:2] {
		var names []backend.Name
		if err := s.Backend.List(ctx, "", func(i backend.Info) error { names = append(names, i.Name); return nil }); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := s.Backend.Delete(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err := f.client(f.restore, false).readChunks(ctx, []format.ID{chunks[2].id})
	wantCode(t, "read of a destroyed chunk", err, connect.CodeDataLoss)
	if !strings.Contains(err.Error(), chunks[2].id.Short()) || strings.Contains(err.Error(), "shard") || strings.Contains(err.Error(), "pack") {
		t.Fatalf("message should name the chunk and nothing internal: %v", err)
	}
}

// storeHandles maps the fixture's store IDs to its stores, as
// repotest.DamageRecord wants them.
func (f *upFixture) storeHandles() map[uint16]backend.Backend {
	stores := map[uint16]backend.Backend{}
	for _, s := range f.stores {
		stores[s.ID] = s.Backend
	}
	return stores
}

// TestReadChunksClientVerifies damages the record of one chunk in its data
// shard. A caller that verifies envelopes itself (client_verifies) gets
// the stored bytes, damage included: the server no longer checks them.
// Asked again without the flag, the server finds the damage and rebuilds
// the record from the other shards.
func TestReadChunksClientVerifies(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	chunks := storeFakeChunks(t, f, 4, 4<<10)
	stores := f.storeHandles()
	if !repotest.DamageRecord(t, f.eng, f.repo, chunks[0].id, stores) {
		t.Fatal("the first record spans two data shards")
	}
	c := f.client(f.restore, false)
	ids := []format.ID{chunks[0].id, chunks[1].id}

	got, err := c.readChunksAs(ctx, ids, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || bytes.Equal(got[0].env, chunks[0].env) || !bytes.Equal(got[1].env, chunks[1].env) {
		t.Fatal("with client_verifies the server did not send the stored bytes as they are")
	}
	got, err = c.readChunksAs(ctx, ids, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0].env, chunks[0].env) || !bytes.Equal(got[1].env, chunks[1].env) {
		t.Fatal("without client_verifies the damaged record was not rebuilt")
	}
}

// readBatched reads ids with ReadChunksRequest.batch and returns the
// chunks message by message.
func (c *upClient) readBatched(ctx context.Context, ids []format.ID) ([][]upChunk, error) {
	raw := make([][]byte, len(ids))
	for i := range ids {
		raw[i] = ids[i][:]
	}
	st, err := c.chunk.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: c.repo, Ids: raw, ClientVerifies: true, Batch: true}))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var msgs [][]upChunk
	for st.Receive() {
		m := st.Msg()
		if len(m.GetId()) != 0 || len(m.GetEnvelope()) != 0 || len(m.GetChunks()) == 0 {
			return msgs, fmt.Errorf("batched message %d: id %d bytes, envelope %d bytes, %d chunks", len(msgs), len(m.GetId()), len(m.GetEnvelope()), len(m.GetChunks()))
		}
		var msg []upChunk
		for _, ch := range m.GetChunks() {
			if len(ch.GetChecksum()) != 0 {
				return msgs, fmt.Errorf("batched message %d: a chunk carries a checksum", len(msgs))
			}
			msg = append(msg, upChunk{id: format.ID(ch.GetId()), env: ch.GetEnvelope()})
		}
		msgs = append(msgs, msg)
	}
	return msgs, st.Err()
}

// TestReadChunksBatch reads small chunks, chunks near the batch bound and
// chunks larger than it with batch set, over both protocols: they arrive
// bit-exact and in request order, several to a message, no message over
// batchBytes of envelopes unless it carries one chunk alone.
func TestReadChunksBatch(t *testing.T) {
	f := newUpFixture(t, upOptions{packTarget: 8 << 20})
	small := storeFakeChunks(t, f, 600, 8<<10)
	large := storeFakeChunks(t, f, 12, 3<<20)
	var want []upChunk
	for i, c := range small {
		want = append(want, c)
		if i%50 == 0 {
			want = append(want, large[i/50])
		}
	}
	ids := make([]format.ID, len(want))
	for i, c := range want {
		ids[i] = c.id
	}
	for _, grpc := range []bool{false, true} {
		msgs, err := f.client(f.restore, grpc).readBatched(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		var got []upChunk
		for i, m := range msgs {
			size := 0
			for _, c := range m {
				size += len(c.env)
			}
			if len(m) > 1 && size > batchBytes {
				t.Errorf("message %d: %d chunks, %d envelope bytes, over the %d bound", i, len(m), size, batchBytes)
			}
			got = append(got, m...)
		}
		if len(got) != len(want) {
			t.Fatalf("received %d chunks, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].id != want[i].id || !bytes.Equal(got[i].env, want[i].env) {
				t.Fatalf("chunk %d differs from the one stored at that place in the request", i)
			}
		}
		// The server batches what is already read; it must manage far
		// fewer messages than chunks (here about 15 small ones to a MiB).
		if len(msgs) > len(want)/4 {
			t.Errorf("grpc=%v: %d messages for %d chunks: hardly batched", grpc, len(msgs), len(want))
		}
		t.Logf("grpc=%v: %d chunks in %d messages", grpc, len(got), len(msgs))
	}
}

// TestReadChunksBatchNotFound: the chunks before one the repository lacks
// arrive, in their batches, and the stream then ends with NotFound naming
// it; a request without batch gets one chunk per message.
func TestReadChunksBatchNotFound(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	chunks := storeFakeChunks(t, f, 40, 4<<10)
	missing := randomID()
	var ids []format.ID
	for _, c := range chunks[:30] {
		ids = append(ids, c.id)
	}
	ids = append(ids, missing, chunks[30].id)
	c := f.client(f.restore, false)
	msgs, err := c.readBatched(context.Background(), ids)
	wantCode(t, "batched read past a missing chunk", err, connect.CodeNotFound)
	if !strings.Contains(err.Error(), missing.Short()) {
		t.Errorf("error does not name the missing chunk: %v", err)
	}
	n := 0
	for _, m := range msgs {
		for _, got := range m {
			if got.id != chunks[n].id || !bytes.Equal(got.env, chunks[n].env) {
				t.Fatalf("chunk %d differs", n)
			}
			n++
		}
	}
	if n != 30 {
		t.Fatalf("received %d chunks before the missing one, want 30", n)
	}

	st, err := c.chunk.ReadChunks(context.Background(), connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: c.repo, Ids: [][]byte{chunks[0].id[:], chunks[1].id[:]}}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; st.Receive(); i++ {
		if m := st.Msg(); len(m.GetChunks()) != 0 || format.ID(m.GetId()) != chunks[i].id {
			t.Fatalf("unbatched message %d: %d chunks, id %x", i, len(m.GetChunks()), m.GetId())
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestReadChunksRuns reads chunks that lie side by side in their packs:
// all of them in storage order, every other one (gaps between the
// records), and in reverse (no runs). Each way every chunk arrives
// bit-exact and in order; the first two are read in span reads, far fewer
// than one per chunk.
func TestReadChunksRuns(t *testing.T) {
	f := newUpFixture(t, upOptions{packTarget: 4 << 20})
	chunks := storeFakeChunks(t, f, 400, 8<<10)
	var odd, reversed []upChunk
	for i := range chunks {
		if i%2 == 1 {
			odd = append(odd, chunks[i])
		}
		reversed = append(reversed, chunks[len(chunks)-1-i])
	}
	c := f.client(f.restore, false)
	for _, tc := range []struct {
		name  string
		want  []upChunk
		spans bool
	}{{"storage order", chunks, true}, {"every other", odd, true}, {"reversed", reversed, false}} {
		before := spanReads.Load()
		c.mustReadBack(t, tc.want)
		spans := spanReads.Load() - before
		if tc.spans && (spans == 0 || spans > int64(len(tc.want)/4)) {
			t.Errorf("%s: %d span reads for %d chunks", tc.name, spans, len(tc.want))
		}
		if !tc.spans && spans != 0 {
			t.Errorf("%s: %d span reads of chunks that are not side by side", tc.name, spans)
		}
	}
}

// TestReadChunksRunDamaged damages the record of a chunk in the middle of
// a run. The server, checking records, rebuilds it from the other shards,
// and every chunk of the run arrives bit-exact; a caller that verifies
// itself gets the damaged bytes of that chunk only.
func TestReadChunksRunDamaged(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	chunks := storeFakeChunks(t, f, 40, 4<<10)
	stores := f.storeHandles()
	bad := -1
	for i := 10; i < 30 && bad < 0; i++ {
		if repotest.DamageRecord(t, f.eng, f.repo, chunks[i].id, stores) {
			bad = i
		}
	}
	if bad < 0 {
		t.Fatal("no record in the middle lies in one data shard")
	}
	c := f.client(f.restore, false)
	before := spanReads.Load()
	c.mustReadBack(t, chunks)
	if spanReads.Load() == before {
		t.Error("no span read")
	}
	ids := make([]format.ID, len(chunks))
	for i := range chunks {
		ids[i] = chunks[i].id
	}
	got, err := c.readChunksAs(ctx, ids, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range chunks {
		if same := bytes.Equal(got[i].env, chunks[i].env); same == (i == bad) {
			t.Errorf("client_verifies: chunk %d (damaged: %d) sent as stored: %v", i, bad, same)
		}
	}
}

package server

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestEndToEnd runs a backup and a restore over a real socket, with the
// Connect protocol and with gRPC over h2c: begin, filter, put, commit, list,
// get, read refs, stream the chunks back bit-exact; then a second backup of
// the same data uploads nothing.
func TestEndToEnd(t *testing.T) {
	for _, grpc := range []bool{false, true} {
		t.Run(map[bool]string{false: "connect", true: "grpc"}[grpc], func(t *testing.T) {
			ctx := context.Background()
			f := newUpFixture(t, upOptions{local: true})
			c := f.client(f.backup, grpc)
			chunks := sealChunks(t, "e2e", 120, 64<<10)
			header, refs := upHeader(t, chunks, "host-a")

			res, err := c.backupRun(ctx, chunks, header, refs)
			if err != nil {
				t.Fatal(err)
			}
			if res.missing != len(refs) || res.stored != uint64(len(refs)) || res.dupes != 0 {
				t.Fatalf("first backup: %+v, want all %d missing and stored", res, len(refs))
			}
			if want := format.ID(blake3.Sum256(header)); res.snap != want {
				t.Fatalf("snapshot ID %s, want the header's hash %s", res.snap.Short(), want.Short())
			}
			if n := countPins(t, f.eng, f.id); n != 0 {
				t.Fatalf("%d pins left after commit", n)
			}
			sid, _ := parseSessionID(res.session)
			if _, err := f.eng.Index().GetSession(f.id, sid); err == nil {
				t.Fatal("session record left after commit")
			}

			list, err := c.snap.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: f.repo}))
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Msg.Snapshots) != 1 || !bytes.Equal(list.Msg.Snapshots[0].Id, res.snap[:]) ||
				!bytes.Equal(list.Msg.Snapshots[0].Header, header) || len(list.Msg.NextPageToken) != 0 {
				t.Fatalf("list: %v", list.Msg)
			}
			get, err := c.snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: f.repo, Id: res.snap[:]}))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(get.Msg.Snapshot.Header, header) || get.Msg.Snapshot.CommittedUnixNano == 0 || get.Msg.Snapshot.Lock != nil {
				t.Fatalf("get: %v", get.Msg)
			}
			if got := readRefs(t, c, res.snap); !slices.Equal(got, refs) {
				t.Fatalf("read refs: %d IDs, want %d (or different)", len(got), len(refs))
			}
			f.client(f.restore, grpc).mustReadBack(t, chunks)

			// Same data again: nothing to upload, the same snapshot ID.
			res2, err := c.backupRun(ctx, chunks, header, refs)
			if err != nil {
				t.Fatal(err)
			}
			if res2.missing != 0 || res2.stored != 0 || res2.snap != res.snap {
				t.Fatalf("second backup: %+v", res2)
			}
			if got := f.srv.metrics.SessionsOpened.Load(); got != 2 {
				t.Fatalf("sessions opened: %d", got)
			}
		})
	}
}

// readRefs streams a snapshot's reference list.
func readRefs(t testing.TB, c *upClient, id format.ID) []format.ID {
	t.Helper()
	st, err := c.snap.ReadRefs(context.Background(), connect.NewRequest(&holdfastv1.ReadRefsRequest{Repo: c.repo, Id: id[:]}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []format.ID
	for st.Receive() {
		for _, b := range st.Msg().Ids {
			out = append(out, format.ID(b))
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadRefsBatches checks a reference list longer than one message.
func TestReadRefsBatches(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	chunks := make([]upChunk, RefsBatchIDs+1500)
	env := fakeEnvelope(100)
	for i := range chunks {
		chunks[i] = upChunk{id: randomID(), env: env}
		if _, err := f.eng.PutChunk(context.Background(), f.id, chunks[i].id, env); err != nil {
			t.Fatal(err)
		}
	}
	header, refs := upHeader(t, chunks, "many")
	c := f.client(f.backup, false)
	res, err := c.backupRun(context.Background(), chunks, header, refs)
	if err != nil {
		t.Fatal(err)
	}
	if got := readRefs(t, c, res.snap); !slices.Equal(got, refs) {
		t.Fatalf("read %d refs, want %d", len(got), len(refs))
	}
}

// TestConcurrentUploaders runs 16 clients at once into one repository, each
// sharing half of its chunks with all the others. Every snapshot commits and
// reads back, and each shared chunk is stored exactly once.
func TestConcurrentUploaders(t *testing.T) {
	const clients, perClient = 16, 40
	f := newUpFixture(t, upOptions{packTarget: 512 << 10})
	shared := sealChunks(t, "shared", perClient/2, 32<<10)
	type job struct {
		chunks []upChunk
		header []byte
		refs   []format.ID
		res    upResult
		err    error
	}
	jobs := make([]*job, clients)
	for i := range jobs {
		own := sealChunks(t, fmt.Sprintf("own-%d", i), perClient/2, 32<<10)
		chunks := append(slices.Clone(shared), own...)
		h, refs := upHeader(t, chunks, fmt.Sprintf("host-%d", i))
		jobs[i] = &job{chunks: chunks, header: h, refs: refs}
	}
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			j.res, j.err = f.client(f.backup, i%2 == 1).backupRun(context.Background(), j.chunks, j.header, j.refs)
		})
	}
	wg.Wait()
	unique := perClient/2 + clients*perClient/2
	var stored uint64
	for i, j := range jobs {
		if j.err != nil {
			t.Fatalf("client %d: %v", i, j.err)
		}
		stored += j.res.stored
	}
	if stored != uint64(unique) {
		t.Fatalf("PutChunks stored %d chunks in total, want %d unique", stored, unique)
	}
	if n := countChunks(t, f.eng, f.id); n != unique {
		t.Fatalf("index holds %d chunk entries, want %d", n, unique)
	}
	c := f.client(f.restore, false)
	for i, j := range jobs {
		snap, err := c.snap.GetSnapshot(context.Background(), connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: f.repo, Id: j.res.snap[:]}))
		if err != nil || !bytes.Equal(snap.Msg.Snapshot.Header, j.header) {
			t.Fatalf("client %d: snapshot: %v", i, err)
		}
		c.mustReadBack(t, j.chunks)
	}
	if n := countPins(t, f.eng, f.id); n != 0 {
		t.Fatalf("%d pins left after every commit", n)
	}
}

// TestPinsUntilCommit checks what the pins protect: chunks FilterMissing
// reported present and chunks PutChunks accepted, until commit or abort.
func TestPinsUntilCommit(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	c := f.client(f.backup, false)
	old := sealChunks(t, "old", 10, 4<<10)
	h, refs := upHeader(t, old, "a")
	if _, err := c.backupRun(ctx, old, h, refs); err != nil {
		t.Fatal(err)
	}

	begin, err := c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: f.repo}))
	if err != nil {
		t.Fatal(err)
	}
	sid := begin.Msg.SessionId
	fresh := sealChunks(t, "fresh", 5, 4<<10)
	ids := [][]byte{old[0].id[:], fresh[0].id[:], old[1].id[:]}
	fm, err := c.upload.FilterMissing(ctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{Repo: f.repo, SessionId: sid, Ids: ids}))
	if err != nil {
		t.Fatal(err)
	}
	if len(fm.Msg.Missing) != 1 || !bytes.Equal(fm.Msg.Missing[0], fresh[0].id[:]) {
		t.Fatalf("missing: %x", fm.Msg.Missing)
	}
	s, _ := parseSessionID(sid)
	for _, ch := range []upChunk{old[0], old[1]} {
		if ok, err := f.eng.Index().IsPinned(f.id, s, ch.id); err != nil || !ok {
			t.Fatalf("present chunk %s not pinned: %v", ch.id.Short(), err)
		}
	}
	st := c.upload.PutChunks(ctx)
	sum := blake3.Sum256(fresh[0].env)
	_ = st.Send(&holdfastv1.PutChunksRequest{Repo: f.repo, SessionId: sid, Chunks: []*holdfastv1.Chunk{{Id: fresh[0].id[:], Envelope: fresh[0].env, Checksum: sum[:]}}})
	if _, err := st.CloseAndReceive(); err != nil {
		t.Fatal(err)
	}
	if n := countPins(t, f.eng, f.id); n != 3 {
		t.Fatalf("%d pins, want 3", n)
	}
	if _, err := c.upload.KeepAlive(ctx, connect.NewRequest(&holdfastv1.KeepAliveRequest{Repo: f.repo, SessionId: sid})); err != nil {
		t.Fatal(err)
	}
	for range 2 { // Abort is idempotent
		if _, err := c.upload.Abort(ctx, connect.NewRequest(&holdfastv1.AbortRequest{Repo: f.repo, SessionId: sid})); err != nil {
			t.Fatal(err)
		}
	}
	if n := countPins(t, f.eng, f.id); n != 0 {
		t.Fatalf("%d pins after abort", n)
	}
	_, err = c.upload.KeepAlive(ctx, connect.NewRequest(&holdfastv1.KeepAliveRequest{Repo: f.repo, SessionId: sid}))
	wantCode(t, "keep-alive after abort", err, connect.CodeNotFound)
}

// TestCommitTakesFilterMissingAnswers: chunks FilterMissing reported
// present are pinned as present, and the session's commit takes them as
// held without looking them up again; the first backup's uploaded chunks
// (plain pins) were looked up.
func TestCommitTakesFilterMissingAnswers(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{local: true})
	c := f.client(f.backup, false)
	chunks := sealChunks(t, "pins", 200, 16<<10)
	header, refs := upHeader(t, chunks, "host-a")
	if _, err := c.backupRun(ctx, chunks, header, refs); err != nil {
		t.Fatal(err)
	}
	first := f.eng.Stats()
	if first.CommitRefsLookedUp != uint64(len(refs)) || first.CommitRefsPinned != 0 {
		t.Fatalf("first commit: %d references looked up, %d on pins; want %d and 0", first.CommitRefsLookedUp, first.CommitRefsPinned, len(refs))
	}
	header2, _ := upHeader(t, chunks, "host-b")
	res, err := c.backupRun(ctx, chunks, header2, refs)
	if err != nil || res.missing != 0 {
		t.Fatalf("second backup: %+v, %v", res, err)
	}
	second := f.eng.Stats()
	if pinned, looked := second.CommitRefsPinned-first.CommitRefsPinned, second.CommitRefsLookedUp-first.CommitRefsLookedUp; pinned != uint64(len(refs)) || looked != 0 {
		t.Fatalf("second commit: %d references on pins, %d looked up; want %d and 0", pinned, looked, len(refs))
	}
}

package server

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// badCase is one malformed or forbidden request.
type badCase struct {
	name string
	code connect.Code
	msg  string // a substring the error message must contain
	run  func(ctx context.Context, b *badEnv) error
}

// badEnv is what a bad-input case may use: the fixture, a client with a
// backup token, and a committed snapshot that must survive every case.
type badEnv struct {
	t      *testing.T
	f      *upFixture
	c      *upClient
	grpc   bool
	base   []upChunk
	baseID format.ID
}

func (b *badEnv) begin(ctx context.Context) []byte {
	b.t.Helper()
	resp, err := b.c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: b.f.repo}))
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.Msg.SessionId
}

func (b *badEnv) filter(ctx context.Context, sid []byte, ids ...[]byte) error {
	_, err := b.c.upload.FilterMissing(ctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{Repo: b.f.repo, SessionId: sid, Ids: ids}))
	return err
}

// put sends each slice of chunks as one message and returns the stream's
// result.
func (b *badEnv) put(ctx context.Context, sid []byte, msgs ...[]*holdfastv1.Chunk) error {
	st := b.c.upload.PutChunks(ctx)
	for _, m := range msgs {
		if err := st.Send(&holdfastv1.PutChunksRequest{Repo: b.f.repo, SessionId: sid, Chunks: m}); err != nil {
			break // the server ended the stream; CloseAndReceive has why
		}
	}
	_, err := st.CloseAndReceive()
	return err
}

func wire(c upChunk) *holdfastv1.Chunk {
	sum := blake3.Sum256(c.env)
	return &holdfastv1.Chunk{Id: c.id[:], Envelope: c.env, Checksum: sum[:]}
}

var id31 = make([]byte, 31)

var badCases = []badCase{
	{"filter/31-byte ID", connect.CodeInvalidArgument, "ids[1] must be 32 bytes", func(ctx context.Context, b *badEnv) error {
		return b.filter(ctx, b.begin(ctx), b.base[0].id[:], id31)
	}},
	{"filter/10001 IDs", connect.CodeInvalidArgument, "at most 10000", func(ctx context.Context, b *badEnv) error {
		many := make([][]byte, MaxFilterIDs+1)
		for i := range many {
			many[i] = b.base[0].id[:]
		}
		return b.filter(ctx, b.begin(ctx), many...)
	}},
	{"filter/forged session", connect.CodeNotFound, "no such upload session", func(ctx context.Context, b *badEnv) error {
		forged := randomID()
		return b.filter(ctx, forged[:16], b.base[0].id[:])
	}},
	{"filter/session ID of 15 bytes", connect.CodeInvalidArgument, "session_id must be 16 bytes", func(ctx context.Context, b *badEnv) error {
		return b.filter(ctx, make([]byte, 15), b.base[0].id[:])
	}},
	{"session of another repository", connect.CodeNotFound, "no such upload session", func(ctx context.Context, b *badEnv) error {
		other := b.f.otherRepo(b.t)
		oc := b.f.client(other.token, b.grpc)
		oc.repo = other.name
		resp, err := oc.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: other.name}))
		if err != nil {
			return err
		}
		foreign := resp.Msg.SessionId
		if err := b.put(ctx, foreign, []*holdfastv1.Chunk{wire(b.base[0])}); connect.CodeOf(err) != connect.CodeNotFound {
			b.t.Errorf("put with a foreign session: %v", err)
		}
		if _, err := b.c.commit(ctx, foreign, []byte("x"), nil, nil); connect.CodeOf(err) != connect.CodeNotFound {
			b.t.Errorf("commit with a foreign session: %v", err)
		}
		return b.filter(ctx, foreign, b.base[0].id[:])
	}},
	{"expired session", connect.CodeNotFound, "no such upload session", func(ctx context.Context, b *badEnv) error {
		sid := b.begin(ctx)
		b.f.clock.Advance(DefaultSessionLease + time.Second)
		if err := b.put(ctx, sid, []*holdfastv1.Chunk{wire(b.base[0])}); connect.CodeOf(err) != connect.CodeNotFound {
			b.t.Errorf("put to an expired session: %v", err)
		}
		if _, err := b.c.upload.KeepAlive(ctx, connect.NewRequest(&holdfastv1.KeepAliveRequest{Repo: b.f.repo, SessionId: sid})); connect.CodeOf(err) != connect.CodeNotFound {
			b.t.Errorf("keep-alive of an expired session: %v", err)
		}
		return b.filter(ctx, sid, b.base[0].id[:])
	}},
	{"unknown repository/server admin", connect.CodeNotFound, "no such repository", func(ctx context.Context, b *badEnv) error {
		_, err := b.f.client(b.f.server, b.grpc).upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: "nope"}))
		return err
	}},
	{"unknown repository/repository token", connect.CodePermissionDenied, "not for this repository", func(ctx context.Context, b *badEnv) error {
		_, err := b.c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: "nope"}))
		return err
	}},
	{"restore token uploads", connect.CodePermissionDenied, "restore token cannot", func(ctx context.Context, b *badEnv) error {
		_, err := b.f.client(b.f.restore, b.grpc).upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: b.f.repo}))
		return err
	}},
	{"put/31-byte ID", connect.CodeInvalidArgument, "chunks[0].id must be 32 bytes", func(ctx context.Context, b *badEnv) error {
		ch := wire(b.base[0])
		ch.Id = id31
		return b.put(ctx, b.begin(ctx), []*holdfastv1.Chunk{ch})
	}},
	{"put/oversized message", connect.CodeResourceExhausted, "", func(ctx context.Context, b *badEnv) error {
		env := fakeEnvelope(MaxMessageBytes)
		id := randomID()
		sum := blake3.Sum256(env)
		return b.put(ctx, b.begin(ctx), []*holdfastv1.Chunk{{Id: id[:], Envelope: env, Checksum: sum[:]}})
	}},
	{"put/checksum mismatch", connect.CodeInvalidArgument, "checksum does not match", func(ctx context.Context, b *badEnv) error {
		good, bad := sealChunks(b.t, "cs-good", 1, 1000)[0], sealChunks(b.t, "cs-bad", 1, 1000)[0]
		w := wire(bad)
		w.Checksum[0] ^= 1
		err := b.put(ctx, b.begin(ctx), []*holdfastv1.Chunk{wire(good)}, []*holdfastv1.Chunk{w})
		if err != nil && !strings.Contains(err.Error(), bad.id.Short()) {
			b.t.Errorf("error does not name chunk %s: %v", bad.id.Short(), err)
		}
		// The earlier message's chunk is kept, the bad one never stored.
		if ferr := b.f.eng.Flush(ctx, b.f.id); ferr != nil {
			b.t.Fatal(ferr)
		}
		if _, gerr := b.f.eng.Index().GetChunk(b.f.id, good.id); gerr != nil {
			b.t.Errorf("chunk of the good message: %v", gerr)
		}
		if _, gerr := b.f.eng.Index().GetChunk(b.f.id, bad.id); gerr == nil {
			b.t.Error("chunk with a bad checksum was stored")
		}
		return err
	}},
	{"put/not an envelope", connect.CodeInvalidArgument, "not a valid envelope", func(ctx context.Context, b *badEnv) error {
		c := upChunk{id: randomID(), env: []byte("plain text is not an envelope, whatever its length")}
		return b.put(ctx, b.begin(ctx), []*holdfastv1.Chunk{wire(c)})
	}},
	{"put/repository changes mid-stream", connect.CodeInvalidArgument, "must not change", func(ctx context.Context, b *badEnv) error {
		st := b.c.upload.PutChunks(ctx)
		_ = st.Send(&holdfastv1.PutChunksRequest{Repo: b.f.repo, SessionId: b.begin(ctx)})
		_ = st.Send(&holdfastv1.PutChunksRequest{Repo: "other"})
		_, err := st.CloseAndReceive()
		return err
	}},
	{"put/empty stream", connect.CodeInvalidArgument, "no message", func(ctx context.Context, b *badEnv) error {
		_, err := b.c.upload.PutChunks(ctx).CloseAndReceive()
		return err
	}},
	{"commit/missing chunks", connect.CodeFailedPrecondition, "1 of 21 referenced chunks", func(ctx context.Context, b *badEnv) error {
		extra := sealChunks(b.t, "never-uploaded", 1, 1000)
		h, refs := upHeader(b.t, append(slices.Clone(b.base), extra...), "missing")
		sid := b.begin(ctx)
		_, err := b.c.commit(ctx, sid, h, refs, nil)
		if _, gerr := b.f.eng.GetSnapshot(ctx, b.f.id, blake3.Sum256(h)); gerr == nil {
			b.t.Error("refused snapshot exists")
		}
		return err
	}},
	{"commit/refs out of order", connect.CodeInvalidArgument, "reference list", func(ctx context.Context, b *badEnv) error {
		h, refs := upHeader(b.t, b.base, "reversed")
		slices.Reverse(refs)
		_, err := b.c.commit(ctx, b.begin(ctx), h, refs, nil)
		return err
	}},
	{"commit/31-byte reference", connect.CodeInvalidArgument, "reference 0 must be 32 bytes", func(ctx context.Context, b *badEnv) error {
		h, _ := upHeader(b.t, b.base, "short")
		st := b.c.upload.Commit(ctx)
		_ = st.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{Repo: b.f.repo, SessionId: b.begin(ctx), Header: h}}})
		_ = st.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: [][]byte{id31}}}})
		_, err := st.CloseAndReceive()
		return err
	}},
	{"commit/no header first", connect.CodeInvalidArgument, "first message must be the commit header", func(ctx context.Context, b *badEnv) error {
		st := b.c.upload.Commit(ctx)
		_ = st.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: [][]byte{b.base[0].id[:]}}}})
		_, err := st.CloseAndReceive()
		return err
	}},
	{"commit/second header", connect.CodeInvalidArgument, "only reference batches", func(ctx context.Context, b *badEnv) error {
		h, _ := upHeader(b.t, b.base, "twice")
		hdr := &holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{Repo: b.f.repo, SessionId: b.begin(ctx), Header: h}}}
		st := b.c.upload.Commit(ctx)
		_ = st.Send(hdr)
		_ = st.Send(hdr)
		_, err := st.CloseAndReceive()
		return err
	}},
	{"commit/wrong expect_id", connect.CodeInvalidArgument, "does not hash to expect_id", func(ctx context.Context, b *badEnv) error {
		h, refs := upHeader(b.t, b.base, "expect")
		wrong := randomID()
		_, err := b.c.commit(ctx, b.begin(ctx), h, refs, wrong[:])
		// The right one commits.
		right := blake3.Sum256(h)
		if id, rerr := b.c.commit(ctx, b.begin(ctx), h, refs, right[:]); rerr != nil || id != right {
			b.t.Errorf("commit with the right expect_id: %v", rerr)
		}
		return err
	}},
	{"commit/header does not decode", connect.CodeInvalidArgument, "snapshot header", func(ctx context.Context, b *badEnv) error {
		_, err := b.c.commit(ctx, b.begin(ctx), []byte("not a header"), nil, nil)
		return err
	}},
	{"read/chunk that does not exist", connect.CodeNotFound, "not found", func(ctx context.Context, b *badEnv) error {
		absent := randomID()
		got, err := b.c.readChunks(ctx, []format.ID{b.base[0].id, b.base[1].id, absent})
		if len(got) != 2 {
			b.t.Errorf("received %d chunks before the absent one, want 2", len(got))
		}
		if err != nil && !strings.Contains(err.Error(), absent.Short()) {
			b.t.Errorf("error does not name chunk %s: %v", absent.Short(), err)
		}
		return err
	}},
	{"read/100001 IDs", connect.CodeInvalidArgument, "at most 100000", func(ctx context.Context, b *badEnv) error {
		many := make([]format.ID, MaxReadIDs+1)
		_, err := b.c.readChunks(ctx, many)
		return err
	}},
	{"read/31-byte ID", connect.CodeInvalidArgument, "ids[0] must be 32 bytes", func(ctx context.Context, b *badEnv) error {
		st, err := b.c.chunk.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: b.f.repo, Ids: [][]byte{id31}}))
		if err != nil {
			return err
		}
		defer st.Close()
		for st.Receive() {
		}
		return st.Err()
	}},
	{"get/unknown snapshot", connect.CodeNotFound, "not found", func(ctx context.Context, b *badEnv) error {
		id := randomID()
		_, err := b.c.snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: b.f.repo, Id: id[:]}))
		return err
	}},
	{"get/31-byte ID", connect.CodeInvalidArgument, "id must be 32 bytes", func(ctx context.Context, b *badEnv) error {
		_, err := b.c.snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: b.f.repo, Id: id31}))
		return err
	}},
	{"list/bad page token", connect.CodeInvalidArgument, "page_token", func(ctx context.Context, b *badEnv) error {
		_, err := b.c.snap.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: b.f.repo, PageToken: id31}))
		return err
	}},
}

// TestBadInput sends every kind of bad request over both protocols. Each
// gets a clear error with the right code; afterwards the server still
// serves and the committed snapshot reads back unchanged.
func TestBadInput(t *testing.T) {
	for _, grpc := range []bool{false, true} {
		t.Run(map[bool]string{false: "connect", true: "grpc"}[grpc], func(t *testing.T) {
			ctx := context.Background()
			f := newUpFixture(t, upOptions{})
			c := f.client(f.backup, grpc)
			base := sealChunks(t, "base", 20, 8<<10)
			h, refs := upHeader(t, base, "base")
			res, err := c.backupRun(ctx, base, h, refs)
			if err != nil {
				t.Fatal(err)
			}
			for _, bc := range badCases {
				t.Run(bc.name, func(t *testing.T) {
					env := &badEnv{t: t, f: f, c: c, grpc: grpc, base: base, baseID: res.snap}
					err := bc.run(ctx, env)
					t.Logf("%v", err)
					wantCode(t, bc.name, err, bc.code)
					if bc.msg != "" && !strings.Contains(err.Error(), bc.msg) {
						t.Errorf("message %q does not say %q", err, bc.msg)
					}
					// Still serving, and the committed snapshot is intact.
					got, err := c.snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: f.repo, Id: res.snap[:]}))
					if err != nil || !bytes.Equal(got.Msg.Snapshot.Header, h) {
						t.Fatalf("committed snapshot after %s: %v", bc.name, err)
					}
					if rr := readRefs(t, c, res.snap); !slices.Equal(rr, refs) {
						t.Fatal("reference list changed")
					}
					c.mustReadBack(t, base)
				})
			}
		})
	}
}

// otherRepo is a second repository with an admin token.
type otherRepoInfo struct {
	name  string
	id    uint32
	token string
}

func (f *upFixture) otherRepo(t testing.TB) otherRepoInfo {
	t.Helper()
	o := otherRepoInfo{name: "other"}
	id, err := f.eng.RepositoryID(o.name)
	if err != nil {
		if id, err = f.eng.CreateRepository(context.Background(), o.name); err != nil {
			t.Fatal(err)
		}
	}
	o.id = id
	o.token = f.putToken(t, id, indexkey.RoleAdmin)
	return o
}

// TestPutChunksCountsDuplicates checks the response counters and metrics
// for a stream that repeats chunks.
func TestPutChunksCountsDuplicates(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	b := &badEnv{t: t, f: f, c: f.client(f.backup, false)}
	chunks := sealChunks(t, "dups", 3, 4000)
	st := b.c.upload.PutChunks(ctx)
	sid := b.begin(ctx)
	_ = st.Send(&holdfastv1.PutChunksRequest{Repo: f.repo, SessionId: sid, Chunks: []*holdfastv1.Chunk{wire(chunks[0]), wire(chunks[1])}})
	_ = st.Send(&holdfastv1.PutChunksRequest{Chunks: []*holdfastv1.Chunk{wire(chunks[1]), wire(chunks[2]), wire(chunks[0])}})
	resp, err := st.CloseAndReceive()
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, c := range chunks {
		want += uint64(len(c.env))
	}
	if resp.Msg.Stored != 3 || resp.Msg.Duplicates != 2 || resp.Msg.BytesStored != want {
		t.Fatalf("response %v, want 3 stored, 2 duplicates, %d bytes", resp.Msg, want)
	}
	m := f.srv.metrics
	if m.ChunksStored.Load() != 3 || m.ChunksDeduped.Load() != 2 || m.BytesIn.Load() != want+uint64(len(chunks[0].env)+len(chunks[1].env)) {
		t.Fatalf("metrics: stored %d deduped %d in %d", m.ChunksStored.Load(), m.ChunksDeduped.Load(), m.BytesIn.Load())
	}
	if n := countPins(t, f.eng, f.id); n != 3 {
		t.Fatalf("%d pins, want 3", n)
	}
}

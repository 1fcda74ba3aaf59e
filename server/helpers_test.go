package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Test helpers of the upload, snapshot and chunk tests. Names start with
// "up" to stay clear of the role-matrix fixture in authfixture_test.go.

// upKeys are the keys of every test repository.
var upKeys = func() keys.Keys {
	xof := blake3.New()
	xof.WriteString("holdfast server test master")
	m, err := keys.NewMaster(xof.Digest(), chunker.DefaultParams)
	if err != nil {
		panic(err)
	}
	return m.Derive()
}()

// upChunk is a sealed test chunk.
type upChunk struct {
	id  format.ID
	env []byte
}

// sealChunks seals n deterministic chunks of 1..maxSize plaintext bytes.
func sealChunks(t testing.TB, seed string, n, maxSize int) []upChunk {
	t.Helper()
	s := seal.NewSealer(upKeys)
	out := make([]upChunk, n)
	for i := range out {
		xof := blake3.New()
		xof.WriteString(seed)
		binary.Write(xof, binary.BigEndian, uint64(i))
		size := 1 + int(binary.BigEndian.Uint32(xof.Sum(nil)))%maxSize
		plain := make([]byte, size)
		xof.Digest().Read(plain)
		id := s.ID(plain)
		env, err := s.Seal(nil, seal.TypeData, id, plain, make([]byte, seal.NonceSize))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = upChunk{id: id, env: env}
	}
	return out
}

// fakeEnvelope returns a random envelope of n bytes with a valid clear
// header: the server cannot tell it from a sealed one, and benchmarks need
// not pay for encryption.
func fakeEnvelope(n int) []byte {
	env := make([]byte, n)
	rand.Read(env)
	env[0], env[1], env[2] = seal.Version, byte(seal.TypeData), byte(seal.None)
	return env
}

func randomID() format.ID {
	var id format.ID
	rand.Read(id[:])
	return id
}

// upHeader builds a signed snapshot header over the chunks' IDs and returns
// it with the sorted, unique reference list.
func upHeader(t testing.TB, chunks []upChunk, host string) ([]byte, []format.ID) {
	t.Helper()
	ids := make([]format.ID, len(chunks))
	for i, c := range chunks {
		ids[i] = c.id
	}
	slices.SortFunc(ids, format.ID.Compare)
	ids = slices.Compact(ids)
	sum, err := snapshot.RefsHash(ids)
	if err != nil {
		t.Fatal(err)
	}
	h := &snapshot.Header{
		Time:     time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC).UnixNano(),
		Host:     host,
		Source:   snapshot.Source{Kind: "path", Name: "/data"},
		Root:     []tree.Extent{{ID: ids[0], Length: 1}},
		RefCount: uint64(len(ids)),
		RefsHash: sum,
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	h.Sign(upKeys.MAC)
	return h.Encode(), ids
}

// upClock is a settable clock for Options.Now.
type upClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *upClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *upClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// upFixture is a Server on a real loopback listener (NewHTTPServer and
// Serve, as holdfastd runs them) over a real engine, with repository
// "main" and tokens of every role.
type upFixture struct {
	eng    *repo.Repo
	stores []erasure.Store
	srv    *Server
	clock  *upClock
	url    string
	repo   string
	id     uint32

	backup, restore, admin, server string // tokens
}

type upOptions struct {
	local      bool // local directory stores instead of in-memory ones
	packTarget int
	gc         GarbageCollector
	stores     int    // how many stores (2+1 shards); 0 means 3
	root       string // with local: where the data and stores go; "" means temporary directories
	index      index.Options
}

func newUpFixture(t testing.TB, o upOptions) *upFixture {
	t.Helper()
	ctx := context.Background()
	if o.packTarget == 0 {
		o.packTarget = 256 << 10
	}
	var stores []erasure.Store
	urls := []string{}
	if o.stores == 0 {
		o.stores = 3
	}
	for i := range o.stores {
		var b erasure.Store
		if o.local {
			dir := t.TempDir()
			if o.root != "" {
				dir = filepath.Join(o.root, fmt.Sprintf("store%d", i))
			}
			lb, err := local.New(filepath.Join(dir, "store"))
			if err != nil {
				t.Fatal(err)
			}
			b = erasure.Store{ID: uint16(i), Backend: lb}
		} else {
			b = erasure.Store{ID: uint16(i), Backend: mem.New()}
		}
		stores = append(stores, b)
		urls = append(urls, b.Backend.String())
	}
	dataDir := t.TempDir()
	if o.root != "" {
		dataDir = filepath.Join(o.root, "data")
	}
	eng, err := repo.Open(ctx, repo.Config{
		DataDir:    dataDir,
		Layout:     repo.NewLayout(urls, 2, 1),
		Stores:     stores,
		PackTarget: o.packTarget,
		Index:      o.index,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &upFixture{eng: eng, stores: stores, repo: "main", clock: &upClock{now: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)}}
	if f.id, err = eng.CreateRepository(ctx, f.repo); err != nil {
		t.Fatal(err)
	}
	f.backup = f.putToken(t, f.id, indexkey.RoleBackup)
	f.restore = f.putToken(t, f.id, indexkey.RoleRestore)
	f.admin = f.putToken(t, f.id, indexkey.RoleAdmin)
	f.server = f.putToken(t, 0, indexkey.RoleAdmin)

	f.srv = New(eng, Options{Now: f.clock.Now, CollectGarbage: o.gc})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(f.srv.Handler(), f.srv.log)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Serve(sctx, hs, ln, "", "") }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := eng.Close(ctx); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	f.url = "http://" + ln.Addr().String()
	return f
}

// putToken registers a token directly in the index (TokenService is tested
// elsewhere).
func (f *upFixture) putToken(t testing.TB, repoID uint32, role indexkey.Role) string {
	t.Helper()
	tok, h, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b := f.eng.Index().NewBatch()
	defer b.Close()
	b.PutToken(h, indexkey.TokenRecord{Repo: repoID, Role: role, Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	return tok
}

// upH2C speaks HTTP/2 without TLS, as gRPC needs. Each fixture client
// shares it; connections are per server address.
var upH2C = func() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}()

// upBearer adds the token to every request.
type upBearer string

func (b upBearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b upBearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b upBearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// upClient is a client of the upload, snapshot and chunk services.
type upClient struct {
	repo   string
	upload holdfastv1connect.UploadServiceClient
	snap   holdfastv1connect.SnapshotServiceClient
	chunk  holdfastv1connect.ChunkServiceClient
}

// client returns a client sending tok over Connect or gRPC.
func (f *upFixture) client(tok string, grpc bool) *upClient {
	opts := []connect.ClientOption{connect.WithInterceptors(upBearer(tok))}
	if grpc {
		opts = append(opts, connect.WithGRPC())
	}
	return &upClient{
		repo:   f.repo,
		upload: holdfastv1connect.NewUploadServiceClient(upH2C, f.url, opts...),
		snap:   holdfastv1connect.NewSnapshotServiceClient(upH2C, f.url, opts...),
		chunk:  holdfastv1connect.NewChunkServiceClient(upH2C, f.url, opts...),
	}
}

// upResult is what a backup run reports.
type upResult struct {
	snap    format.ID
	missing int // chunks FilterMissing reported missing
	stored  uint64
	dupes   uint64
	session []byte
}

// backupRun runs the whole upload protocol like a client: begin, ask
// which chunks are missing, upload those, commit header and references.
func (c *upClient) backupRun(ctx context.Context, chunks []upChunk, header []byte, refs []format.ID) (upResult, error) {
	var res upResult
	begin, err := c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: c.repo}))
	if err != nil {
		return res, err
	}
	sid := begin.Msg.GetSessionId()
	res.session = sid
	byID := map[format.ID][]byte{}
	for _, ch := range chunks {
		byID[ch.id] = ch.env
	}
	var missing [][]byte
	for start := 0; start < len(refs); start += MaxFilterIDs {
		batch := refs[start:min(start+MaxFilterIDs, len(refs))]
		ids := make([][]byte, len(batch))
		for i := range batch {
			ids[i] = batch[i][:]
		}
		resp, err := c.upload.FilterMissing(ctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{Repo: c.repo, SessionId: sid, Ids: ids}))
		if err != nil {
			return res, err
		}
		missing = append(missing, resp.Msg.GetMissing()...)
	}
	res.missing = len(missing)
	put := c.upload.PutChunks(ctx)
	msg := &holdfastv1.PutChunksRequest{Repo: c.repo, SessionId: sid}
	size := 0
	for _, raw := range missing {
		env := byID[format.ID(raw)]
		sum := blake3.Sum256(env)
		msg.Chunks = append(msg.Chunks, &holdfastv1.Chunk{Id: raw, Envelope: env, Checksum: sum[:]})
		if size += len(env); size >= 4<<20 {
			if err := put.Send(msg); err != nil {
				break // the real error comes from CloseAndReceive
			}
			msg, size = &holdfastv1.PutChunksRequest{}, 0
		}
	}
	if len(msg.Chunks) > 0 || msg.Repo != "" {
		_ = put.Send(msg)
	}
	pr, err := put.CloseAndReceive()
	if err != nil {
		return res, err
	}
	res.stored, res.dupes = pr.Msg.GetStored(), pr.Msg.GetDuplicates()
	res.snap, err = c.commit(ctx, sid, header, refs, nil)
	return res, err
}

// commit sends a commit stream: the header, then refs in batches of 1000.
func (c *upClient) commit(ctx context.Context, sid, header []byte, refs []format.ID, expect []byte) (format.ID, error) {
	st := c.upload.Commit(ctx)
	err := st.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{
		Repo: c.repo, SessionId: sid, Header: header, ExpectId: expect,
	}}})
	for start := 0; err == nil && start < len(refs); start += 1000 {
		batch := refs[start:min(start+1000, len(refs))]
		ids := make([][]byte, len(batch))
		for i := range batch {
			ids[i] = batch[i][:]
		}
		err = st.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: ids}}})
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return format.ID{}, err
	}
	resp, err := st.CloseAndReceive()
	if err != nil {
		return format.ID{}, err
	}
	return format.IDFromBytes(resp.Msg.GetSnapshotId())
}

// readChunks streams the chunks back and returns them in arrival order.
func (c *upClient) readChunks(ctx context.Context, ids []format.ID) ([]upChunk, error) {
	return c.readChunksAs(ctx, ids, false)
}

// readChunksAs is readChunks with ReadChunksRequest.client_verifies.
func (c *upClient) readChunksAs(ctx context.Context, ids []format.ID, clientVerifies bool) ([]upChunk, error) {
	raw := make([][]byte, len(ids))
	for i := range ids {
		raw[i] = ids[i][:]
	}
	st, err := c.chunk.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: c.repo, Ids: raw, ClientVerifies: clientVerifies}))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []upChunk
	for st.Receive() {
		out = append(out, upChunk{id: format.ID(st.Msg().GetId()), env: st.Msg().GetEnvelope()})
	}
	return out, st.Err()
}

// mustReadBack checks that every chunk streams back bit-exact, in order.
func (c *upClient) mustReadBack(t testing.TB, chunks []upChunk) {
	t.Helper()
	ids := make([]format.ID, len(chunks))
	for i := range chunks {
		ids[i] = chunks[i].id
	}
	got, err := c.readChunks(context.Background(), ids)
	if err != nil {
		t.Fatalf("read chunks: %v", err)
	}
	if len(got) != len(chunks) {
		t.Fatalf("read %d chunks, want %d", len(got), len(chunks))
	}
	for i := range chunks {
		if got[i].id != chunks[i].id || string(got[i].env) != string(chunks[i].env) {
			t.Fatalf("chunk %d (%s): wrong id or bytes", i, chunks[i].id.Short())
		}
	}
}

// wantCode fails unless err carries code (0: success).
func wantCode(t testing.TB, what string, err error, code connect.Code) {
	t.Helper()
	if got := codeOf(err); got != code {
		t.Fatalf("%s: got code %v (%v), want %v", what, got, err, code)
	}
}

// countPins returns the number of pins in repository repoID.
func countPins(t testing.TB, eng *repo.Repo, repoID uint32) int {
	t.Helper()
	n := 0
	if err := eng.Index().AllPins(repoID, func(indexkey.SessionID, format.ID) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// countChunks returns the number of chunk entries in repository repoID.
func countChunks(t testing.TB, eng *repo.Repo, repoID uint32) int {
	t.Helper()
	n := 0
	if err := eng.Index().Chunks(repoID, func(format.ID, indexkey.ChunkLoc) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
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
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/server"
)

// rsServer is a real server on a loopback listener over three local
// stores (2+1 shards), with one repository "data" and a token per role.
type rsServer struct {
	eng    *repo.Repo
	url    string
	repo   string
	tokens map[string]string // backup, restore, admin, server
	stores []string          // store directories
}

const rsPassword = "correct horse"

func newRSServer(t testing.TB) *rsServer {
	t.Helper()
	ctx := context.Background()
	s := &rsServer{repo: "data", tokens: map[string]string{}}
	var stores []erasure.Store
	var urls []string
	for i := range 3 {
		dir := filepath.Join(t.TempDir(), "store")
		b, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.stores = append(s.stores, dir)
		stores = append(stores, erasure.Store{ID: uint16(i), Backend: b})
		urls = append(urls, b.String())
	}
	dataDir := t.TempDir()
	eng, err := repo.Open(ctx, repo.Config{
		DataDir: dataDir, Layout: repo.NewLayout(urls, 2, 1), Stores: stores, PackTarget: 8 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.eng = eng
	id, err := eng.CreateRepository(ctx, s.repo)
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]indexkey.Role{
		"backup": indexkey.RoleBackup, "restore": indexkey.RoleRestore, "admin": indexkey.RoleAdmin,
	} {
		tok, h, err := server.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		b := eng.Index().NewBatch()
		b.PutToken(h, indexkey.TokenRecord{Repo: id, Role: role, Created: time.Now()})
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		b.Close()
		s.tokens[name] = tok
	}
	if s.tokens["server"], _, err = server.EnsureAdminToken(dataDir, eng); err != nil {
		t.Fatal(err)
	}
	srv := server.New(eng, server.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(srv.Handler(), slog.New(slog.DiscardHandler))
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.Serve(sctx, hs, ln, "", "") }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		eng.Close(context.Background())
	})
	s.url = "http://" + ln.Addr().String()
	return s
}

// conn dials the server with one of the tokens.
func (s *rsServer) conn(role string) *Conn {
	return Dial(Config{Server: s.url, Token: s.tokens[role], Repo: s.repo})
}

// initRepo creates the repository's keys (cheap KDF) and returns it
// opened with the admin token.
func (s *rsServer) initRepo(t testing.TB) *Repository {
	t.Helper()
	r, err := Init(context.Background(), s.conn("admin"), []byte(rsPassword), InitOptions{KDF: keys.TestKDF, Label: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// open opens the repository with another role's token.
func (s *rsServer) open(t testing.TB, role string) *Repository {
	t.Helper()
	r, err := Open(context.Background(), s.conn(role), []byte(rsPassword))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rsNode describes one entry of a test snapshot.
type rsNode struct {
	name   string
	typ    tree.Type
	mode   uint32
	uid    uint32
	gid    uint32
	mtime  int64 // unix ns; 0 means a fixed default
	atime  int64
	parts  []rsPart // file content in order
	target string   // symlink target
	group  uint64   // hardlink group
	xattrs []tree.Xattr
	major  uint32
	minor  uint32
	kids   []*rsNode
	raw    []byte // a directory's tree bytes as they are (tampered trees)
}

// rsPart is a piece of file content: data, a hole, or data whose chunk
// is stored under its ID but holding another chunk's envelope (forged).
type rsPart struct {
	data   []byte
	hole   uint64
	forged bool
}

const rsDefaultTime = int64(1_700_000_000_123_456_789)

func rsFile(name string, mode uint32, parts ...rsPart) *rsNode {
	return &rsNode{name: name, typ: tree.File, mode: mode, parts: parts}
}

func rsData(b []byte) rsPart { return rsPart{data: b} }
func rsHole(n uint64) rsPart { return rsPart{hole: n} }
func rsDirOf(name string, mode uint32, kids ...*rsNode) *rsNode {
	return &rsNode{name: name, typ: tree.Dir, mode: mode, kids: kids}
}
func rsSymlink(name, target string) *rsNode {
	return &rsNode{name: name, typ: tree.Symlink, mode: 0o777, target: target}
}

// rsRandom returns n deterministic pseudo-random bytes.
func rsRandom(seed uint64, n int) []byte {
	h := blake3.New()
	binary.Write(h, binary.BigEndian, seed)
	b := make([]byte, n)
	h.Digest().Read(b)
	return b
}

// rsBuilder seals and uploads a snapshot described by rsNodes, in one
// upload session, without any of the backup code. Envelopes are uploaded
// in batches as they pile up, so large snapshots stream.
type rsBuilder struct {
	t         testing.TB
	r         *Repository
	ctx       context.Context
	sid       []byte
	chunkSize int // file data is cut into pieces of this size
	treeChunk int // tree bytes are cut into pieces of this size

	pending      []*holdfastv1.Chunk
	pendingBytes int
	refs         map[format.ID]struct{}
	omit         map[format.ID]bool // left out of the reference list
	files, dirs  uint64
	size         uint64
}

func newRSBuilder(t testing.TB, r *Repository) *rsBuilder {
	t.Helper()
	ctx := context.Background()
	begin, err := r.Upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: r.Repo()}))
	if err != nil {
		t.Fatal(err)
	}
	return &rsBuilder{t: t, r: r, ctx: ctx, sid: begin.Msg.SessionId,
		chunkSize: 64 << 10, treeChunk: 1 << 20, refs: map[format.ID]struct{}{}}
}

// store queues env under id.
func (b *rsBuilder) store(id format.ID, env []byte) {
	b.refs[id] = struct{}{}
	sum := blake3.Sum256(env)
	b.pending = append(b.pending, &holdfastv1.Chunk{Id: id[:], Envelope: env, Checksum: sum[:]})
	if b.pendingBytes += len(env); b.pendingBytes > 32<<20 {
		b.flush()
	}
}

// put seals plain as a chunk of type typ and returns its extent.
func (b *rsBuilder) put(typ seal.Type, plain []byte) tree.Extent {
	id := b.r.Sealer.ID(plain)
	env, err := b.r.Sealer.Seal(nil, typ, id, plain, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	b.store(id, env)
	return tree.Extent{ID: id, Length: uint64(len(plain))}
}

// forge stores, under the ID of plain, the envelope of other bytes.
func (b *rsBuilder) forge(plain []byte) tree.Extent {
	id := b.r.Sealer.ID(plain)
	other := append([]byte("forged:"), plain...)
	env, err := b.r.Sealer.Seal(nil, seal.TypeData, b.r.Sealer.ID(other), other, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	b.store(id, env)
	return tree.Extent{ID: id, Length: uint64(len(plain))}
}

// flush uploads the chunks the server lacks.
func (b *rsBuilder) flush() {
	if len(b.pending) == 0 {
		return
	}
	t := b.t
	var missing = map[string]bool{}
	for i := 0; i < len(b.pending); i += 10000 {
		ids := [][]byte{}
		for _, c := range b.pending[i:min(i+10000, len(b.pending))] {
			ids = append(ids, c.Id)
		}
		fm, err := b.r.Upload.FilterMissing(b.ctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{Repo: b.r.Repo(), SessionId: b.sid, Ids: ids}))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range fm.Msg.Missing {
			missing[string(id)] = true
		}
	}
	if len(missing) > 0 {
		stream := b.r.Upload.PutChunks(b.ctx)
		var msg []*holdfastv1.Chunk
		size := 0
		send := func() {
			if len(msg) > 0 {
				if err := stream.Send(&holdfastv1.PutChunksRequest{Repo: b.r.Repo(), SessionId: b.sid, Chunks: msg}); err != nil {
					t.Logf("send: %v", err)
				}
			}
			msg, size = nil, 0
		}
		for _, c := range b.pending {
			if !missing[string(c.Id)] {
				continue
			}
			delete(missing, string(c.Id)) // the same chunk twice in one batch
			if size+len(c.Envelope) > 16<<20 {
				send()
			}
			msg = append(msg, c)
			size += len(c.Envelope)
		}
		send()
		if _, err := stream.CloseAndReceive(); err != nil {
			t.Fatal(err)
		}
	}
	b.pending, b.pendingBytes = nil, 0
}

// entry builds the tree entry of n (uploading its content or subtree).
func (b *rsBuilder) entry(n *rsNode) tree.Entry {
	e := tree.Entry{
		Name: n.name, Type: n.typ, Mode: n.mode, UID: n.uid, GID: n.gid,
		User: "", Group: "", MTime: n.mtime, ATime: n.atime, CTime: n.mtime,
		HardlinkGroup: n.group, LinkTarget: n.target, Xattrs: n.xattrs,
		RDevMajor: n.major, RDevMinor: n.minor, Links: 1,
	}
	if e.MTime == 0 {
		e.MTime, e.CTime = rsDefaultTime, rsDefaultTime
	}
	if e.ATime == 0 {
		e.ATime = e.MTime
	}
	if n.group != 0 {
		e.Links = 2
	}
	switch n.typ {
	case tree.Dir:
		b.dirs++
		e.Links = 2
		if n.raw != nil {
			e.Subtree = b.cutTree(n.raw)
		} else {
			e.Subtree = b.tree(n.kids)
		}
	case tree.File:
		b.files++
		for _, p := range n.parts {
			switch {
			case p.hole > 0:
				e.Content = append(e.Content, tree.Extent{Hole: true, Length: p.hole})
				e.Size += p.hole
			case p.forged:
				e.Content = append(e.Content, b.forge(p.data))
				e.Size += uint64(len(p.data))
			default:
				for off := 0; off < len(p.data); off += b.chunkSize {
					e.Content = append(e.Content, b.put(seal.TypeData, p.data[off:min(off+b.chunkSize, len(p.data))]))
				}
				e.Size += uint64(len(p.data))
			}
		}
		b.size += e.Size
	default:
		b.files++
	}
	return e
}

// tree encodes a directory listing and returns its chunks.
func (b *rsBuilder) tree(kids []*rsNode) []tree.Extent {
	entries := make([]tree.Entry, 0, len(kids))
	for _, k := range kids {
		entries = append(entries, b.entry(k))
	}
	slices.SortFunc(entries, func(x, y tree.Entry) int { return bytes.Compare([]byte(x.Name), []byte(y.Name)) })
	raw, err := tree.Encode(entries)
	if err != nil {
		b.t.Fatalf("encode tree: %v", err)
	}
	return b.cutTree(raw)
}

func (b *rsBuilder) cutTree(raw []byte) []tree.Extent {
	var exts []tree.Extent
	for off := 0; off < len(raw); off += b.treeChunk {
		exts = append(exts, b.put(seal.TypeTree, raw[off:min(off+b.treeChunk, len(raw))]))
	}
	return exts
}

// commit uploads what is left and commits a snapshot whose root holds
// kids (or, with raw set, whose root tree is raw).
func (b *rsBuilder) commit(kids []*rsNode, raw []byte) Snapshot {
	t := b.t
	var root []tree.Extent
	if raw != nil {
		root = b.cutTree(raw)
	} else {
		root = b.tree(kids)
	}
	b.flush()
	refs := make([]format.ID, 0, len(b.refs))
	for id := range b.refs {
		if !b.omit[id] {
			refs = append(refs, id)
		}
	}
	slices.SortFunc(refs, format.ID.Compare)
	sum, err := snapshot.RefsHash(refs)
	if err != nil {
		t.Fatal(err)
	}
	h := &snapshot.Header{
		Time: time.Now().UnixNano(), Host: "test-host",
		Source: snapshot.Source{Kind: snapshot.KindPath, Name: "/test"},
		Paths:  []string{"/test"}, Root: root, Size: b.size, Files: b.files, Dirs: b.dirs,
		ClientVersion: "restore-test", RefCount: uint64(len(refs)), RefsHash: sum,
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	h.Sign(b.r.Keys.MAC)
	commit := b.r.Upload.Commit(b.ctx)
	if err := commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{Repo: b.r.Repo(), SessionId: b.sid, Header: h.Encode()}}}); err == nil {
		for i := 0; i < len(refs); i += 10000 {
			batch := [][]byte{}
			for _, id := range refs[i:min(i+10000, len(refs))] {
				batch = append(batch, bytes.Clone(id[:]))
			}
			if commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: batch}}}) != nil {
				break
			}
		}
	}
	resp, err := commit.CloseAndReceive()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := b.r.Resolve(b.ctx, format.ID(resp.Msg.SnapshotId).String())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// rsSnapshot builds and commits a snapshot of kids in one go.
func rsSnapshot(t testing.TB, r *Repository, kids ...*rsNode) Snapshot {
	t.Helper()
	return newRSBuilder(t, r).commit(kids, nil)
}

// rsRawTree splices already encoded entries into a tree stream with a
// valid trailer: the way to make trees the encoder refuses to write.
func rsRawTree(records ...[]byte) []byte {
	out := []byte(tree.Magic + "\x01")
	for _, r := range records {
		out = append(out, r...)
	}
	out = append(out, 0)
	out = binary.AppendUvarint(out, uint64(len(records)))
	sum := blake3.Sum256(out)
	return append(out, sum[:]...)
}

// rsRecord returns the encoded record (length prefix and body) of the one
// entry built from n.
func (b *rsBuilder) rsRecord(n *rsNode) []byte {
	raw, err := tree.Encode([]tree.Entry{b.entry(n)})
	if err != nil {
		b.t.Fatal(err)
	}
	return raw[5 : len(raw)-1-1-32] // magic+version … end marker, count 1, checksum
}

// rsCountingChunks wraps a ChunkService client and records every ID asked.
type rsCountingChunks struct {
	holdfastv1connect.ChunkServiceClient
	mu  sync.Mutex
	ids []format.ID
}

func (c *rsCountingChunks) ReadChunks(ctx context.Context, req *connect.Request[holdfastv1.ReadChunksRequest]) (*connect.ServerStreamForClient[holdfastv1.ReadChunksResponse], error) {
	c.mu.Lock()
	for _, id := range req.Msg.Ids {
		c.ids = append(c.ids, format.ID(id))
	}
	c.mu.Unlock()
	return c.ChunkServiceClient.ReadChunks(ctx, req)
}

func (c *rsCountingChunks) take() []format.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := c.ids
	c.ids = nil
	return ids
}

func rsTime(ns int64) time.Time { return time.Unix(0, ns) }

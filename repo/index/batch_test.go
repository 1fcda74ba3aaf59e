package index_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123, time.UTC)

// roundTrip is one typed record: how to put it, read it back and delete
// it (nil when the API has no delete for it).
type roundTrip struct {
	name string
	want any
	put  func(b *index.Batch)
	get  func(x *index.Index) (any, error)
	del  func(b *index.Batch)
}

func roundTrips() []roundTrip {
	id, snap := seqID(9, 1), seqID(9, 2)
	sess := indexkey.SessionID{1, 2, 3}
	tok := indexkey.TokenHash{0xaa, 0xbb}
	loc := testLoc(7)
	pack := indexkey.PackRecord{Length: 32 << 20, K: 2, M: 1, Stores: []uint16{0, 1, 2},
		LiveBytes: 1 << 20, LiveCount: 10, Created: t0, RetainUntil: t0.Add(time.Hour)}
	snapRec := indexkey.SnapshotRecord{
		Header:    indexkey.ObjectRef{Inline: []byte("clear header")},
		Refs:      indexkey.ObjectRef{Name: "r/snapshots/x.refs", Size: 99, Hash: [32]byte{7}, Stores: []uint16{1, 4}},
		Committed: t0,
	}
	lock := indexkey.LockRecord{Mode: indexkey.LockCompliance, Until: t0.Add(24 * time.Hour), Set: t0}
	token := indexkey.TokenRecord{Repo: 3, Role: indexkey.RoleBackup, Created: t0, Label: "ci"}
	session := indexkey.SessionRecord{Created: t0, Lease: t0.Add(time.Minute)}
	gc := indexkey.GCState{Phase: indexkey.GCMarking, Epoch: 4, Started: t0}
	meta := indexkey.Meta{IndexVersion: 1, K: 4, M: 2, Stores: []indexkey.Store{{ID: 0, URL: "/srv/a"}, {ID: 1, URL: "s3://b/p"}}}
	repo := indexkey.RepoRecord{ID: 3, Created: t0, Flags: indexkey.RepoReplica}
	const r = 3
	return []roundTrip{
		{"chunk", loc,
			func(b *index.Batch) { b.PutChunk(r, id, loc) },
			func(x *index.Index) (any, error) { return x.GetChunk(r, id) },
			func(b *index.Batch) { b.DeleteChunk(r, id) }},
		{"pack", pack,
			func(b *index.Batch) { b.PutPack(r, id, pack) },
			func(x *index.Index) (any, error) { return x.GetPack(r, id) },
			func(b *index.Batch) { b.DeletePack(r, id) }},
		{"snapshot", snapRec,
			func(b *index.Batch) { b.PutSnapshot(r, snap, snapRec) },
			func(x *index.Index) (any, error) { return x.GetSnapshot(r, snap) },
			func(b *index.Batch) { b.DeleteSnapshot(r, snap) }},
		{"lock", lock,
			func(b *index.Batch) { b.PutLock(r, snap, lock) },
			func(x *index.Index) (any, error) { return x.GetLock(r, snap) },
			func(b *index.Batch) { b.DeleteLock(r, snap) }},
		{"key file", []byte("wrapped master key"),
			func(b *index.Batch) { b.PutKeyFile(r, id, []byte("wrapped master key")) },
			func(x *index.Index) (any, error) { return x.GetKeyFile(r, id) },
			func(b *index.Batch) { b.DeleteKeyFile(r, id) }},
		{"token", token,
			func(b *index.Batch) { b.PutToken(tok, token) },
			func(x *index.Index) (any, error) { return x.GetToken(tok) },
			func(b *index.Batch) { b.DeleteToken(tok) }},
		{"session", session,
			func(b *index.Batch) { b.PutSession(r, sess, session) },
			func(x *index.Index) (any, error) { return x.GetSession(r, sess) },
			func(b *index.Batch) { b.DeleteSession(r, sess) }},
		{"pin", true,
			func(b *index.Batch) { b.Pin(r, sess, id) },
			func(x *index.Index) (any, error) { return x.IsPinned(r, sess, id) },
			func(b *index.Batch) { b.UnpinAll(r, sess) }},
		{"gc state", gc,
			func(b *index.Batch) { b.PutGCState(r, gc) },
			func(x *index.Index) (any, error) { return x.GetGCState(r) },
			nil},
		{"meta", meta,
			func(b *index.Batch) { b.PutMeta(meta) },
			func(x *index.Index) (any, error) { return x.GetMeta() },
			nil},
		{"repo", repo,
			func(b *index.Batch) { b.PutRepo("alpha", repo) },
			func(x *index.Index) (any, error) { return x.GetRepo("alpha") },
			nil},
		{"repo name", "alpha",
			func(b *index.Batch) { b.PutRepo("alpha", repo) },
			func(x *index.Index) (any, error) { return x.RepoName(r) },
			nil},
	}
}

// TestRoundTrip: every typed record reads back as written, survives a
// reopen, and is gone after its delete.
func TestRoundTrip(t *testing.T) {
	for _, rt := range roundTrips() {
		t.Run(rt.name, func(t *testing.T) {
			dir := t.TempDir()
			x := openIndex(t, dir)
			if got, err := rt.get(x); rt.want != true && !errors.Is(err, index.ErrNotFound) {
				t.Fatalf("before put: got %v, %v; want ErrNotFound", got, err)
			}
			b := x.NewBatch()
			rt.put(b)
			commit(t, b)
			check := func(when string) {
				got, err := rt.get(x)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if !reflect.DeepEqual(got, rt.want) {
					t.Fatalf("%s: got %+v, want %+v", when, got, rt.want)
				}
			}
			check("after put")
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			x = openIndex(t, dir)
			check("after reopen")
			if rt.del == nil {
				return
			}
			b = x.NewBatch()
			rt.del(b)
			commit(t, b)
			got, err := rt.get(x)
			if rt.want == true {
				if got != false || err != nil {
					t.Fatalf("after delete: got %v, %v; want false", got, err)
				}
				return
			}
			if !errors.Is(err, index.ErrNotFound) {
				t.Fatalf("after delete: got %+v, %v; want ErrNotFound", got, err)
			}
		})
	}
}

// TestBatchStickyError: an invalid value or repository 0 fails the whole
// batch at Commit, and nothing of it is written.
func TestBatchStickyError(t *testing.T) {
	x := newIndex(t)
	id := seqID(1, 1)
	cases := map[string]func(b *index.Batch){
		"repo 0":          func(b *index.Batch) { b.PutChunk(0, id, testLoc(1)) },
		"zero length":     func(b *index.Batch) { b.PutChunk(1, id, indexkey.ChunkLoc{}) },
		"bad repo name":   func(b *index.Batch) { b.PutRepo("Bad_Name", indexkey.RepoRecord{ID: 1}) },
		"delete repo 0":   func(b *index.Batch) { b.DeletePack(0, id) },
		"pin repo 0":      func(b *index.Batch) { b.Pin(0, indexkey.SessionID{}, id) },
		"unpin all rep 0": func(b *index.Batch) { b.UnpinAll(0, indexkey.SessionID{}) },
	}
	for name, bad := range cases {
		b := x.NewBatch()
		b.PutChunk(1, id, testLoc(1))
		bad(b)
		b.PutChunk(1, seqID(1, 2), testLoc(2))
		if b.Err() == nil {
			t.Errorf("%s: Err() is nil", name)
		}
		if err := b.Commit(true); err == nil {
			t.Errorf("%s: Commit succeeded", name)
		}
		if _, err := x.GetChunk(1, id); !errors.Is(err, index.ErrNotFound) {
			t.Errorf("%s: the batch was partly written: %v", name, err)
		}
	}

	b := x.NewBatch()
	b.PutChunk(1, id, testLoc(1))
	commit(t, b)
	if err := b.Commit(true); !errors.Is(err, index.ErrClosed) {
		t.Errorf("second Commit: got %v, want ErrClosed", err)
	}
	b.PutChunk(1, id, testLoc(1))
	if !errors.Is(b.Err(), index.ErrClosed) {
		t.Errorf("put after Commit: got %v, want ErrClosed", b.Err())
	}

	b = x.NewBatch()
	b.DeleteChunk(1, id)
	b.Close()
	if _, err := x.GetChunk(1, id); err != nil {
		t.Errorf("a closed batch was applied: %v", err)
	}
}

// TestCorruptValue: garbage under a chunk key is a format.ErrCorrupt-class
// error naming the key, from every read path, never a panic.
func TestCorruptValue(t *testing.T) {
	x := newIndex(t)
	id := seqID(1, 5)
	key := indexkey.ChunkKey(1, id)
	for _, garbage := range [][]byte{{}, {1}, {0xff, 1, 2, 3}, make([]byte, 57), append([]byte{1}, make([]byte, 200)...)} {
		if err := x.RawSet(key, garbage); err != nil {
			t.Fatal(err)
		}
		want := indexkey.Describe(key)
		checkCorrupt := func(what string, err error) {
			t.Helper()
			if !format.IsCorrupt(err) {
				t.Fatalf("%s of %x: got %v, want a corrupt error", what, garbage, err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("%s of %x: error %q does not name %s", what, garbage, err, want)
			}
		}
		_, err := x.GetChunk(1, id)
		checkCorrupt("GetChunk", err)
		checkCorrupt("Chunks", x.Chunks(1, func(format.ID, indexkey.ChunkLoc) error { return nil }))
		checkCorrupt("Lookup", x.Lookup(1, []format.ID{id}, func(int, indexkey.ChunkLoc, bool) {}))
		// Missing only tests presence: the key is there.
		if m, err := x.Missing(1, []format.ID{id}, nil); err != nil || len(m) != 0 {
			t.Fatalf("Missing: got %v, %v; want present", m, err)
		}
	}
	if err := x.RawSet(indexkey.RepoNameKey(4), []byte{1, 200}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.RepoName(4); !format.IsCorrupt(err) {
		t.Fatalf("RepoName of garbage: got %v, want corrupt", err)
	}
}

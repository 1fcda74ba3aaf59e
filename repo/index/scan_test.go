package index_test

import (
	"errors"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Repository IDs whose big-endian bytes could confuse a sloppy prefix: 1
// and 256 share their last byte with 257 and 65537 in some form, and
// MaxUint32 has no successor inside the keyspace.
var isolationRepos = []uint32{1, 2, 256, 257, 65537, math.MaxUint32}

// TestScanIsolation: with every repository's IDs interleaved in key order,
// each scan of one repository yields exactly that repository's entries.
func TestScanIsolation(t *testing.T) {
	x := newIndex(t)
	const perRepo = 50
	want := map[uint32]map[format.ID]bool{}
	sess := indexkey.SessionID{9}
	b := x.NewBatch()
	for n := range perRepo {
		for _, r := range isolationRepos {
			// The same IDs in every repository, so keys interleave and
			// differ only in the repository field.
			id := seqID(77, uint64(n))
			if want[r] == nil {
				want[r] = map[format.ID]bool{}
			}
			want[r][id] = true
			b.PutChunk(r, id, testLoc(n))
			b.PutPack(r, id, indexkey.PackRecord{Length: 10, K: 1, Stores: []uint16{0}, LiveBytes: 1, LiveCount: 1})
			b.PutSnapshot(r, id, indexkey.SnapshotRecord{Committed: t0})
			b.PutLock(r, id, indexkey.LockRecord{Mode: indexkey.LockGovernance, Until: t0, Set: t0})
			b.PutKeyFile(r, id, []byte{byte(r)})
			b.Pin(r, sess, id)
			b.PutSession(r, indexkey.SessionID(id[:16]), indexkey.SessionRecord{Lease: t0})
		}
	}
	commit(t, b)

	for _, r := range isolationRepos {
		scans := map[string]func(add func(format.ID)) error{
			"Chunks": func(add func(format.ID)) error {
				return x.Chunks(r, func(id format.ID, _ indexkey.ChunkLoc) error { add(id); return nil })
			},
			"Packs": func(add func(format.ID)) error {
				return x.Packs(r, func(id format.ID, _ indexkey.PackRecord) error { add(id); return nil })
			},
			"Snapshots": func(add func(format.ID)) error {
				return x.Snapshots(r, func(id format.ID, _ indexkey.SnapshotRecord) error { add(id); return nil })
			},
			"Locks": func(add func(format.ID)) error {
				return x.Locks(r, func(id format.ID, _ indexkey.LockRecord) error { add(id); return nil })
			},
			"KeyFiles": func(add func(format.ID)) error {
				return x.KeyFiles(r, func(id format.ID, blob []byte) error {
					if len(blob) != 1 || blob[0] != byte(r) {
						t.Errorf("repo %d: key file of another repository: %x", r, blob)
					}
					add(id)
					return nil
				})
			},
			"Pins": func(add func(format.ID)) error {
				return x.Pins(r, sess, func(id format.ID) error { add(id); return nil })
			},
			"AllPins": func(add func(format.ID)) error {
				return x.AllPins(r, func(s indexkey.SessionID, id format.ID) error {
					if s != sess {
						t.Errorf("repo %d: pin of unknown session %x", r, s)
					}
					add(id)
					return nil
				})
			},
		}
		for name, scan := range scans {
			got := map[format.ID]bool{}
			err := scan(func(id format.ID) {
				if got[id] {
					t.Errorf("repo %d %s: %s twice", r, name, id.Short())
				}
				got[id] = true
			})
			if err != nil {
				t.Fatalf("repo %d %s: %v", r, name, err)
			}
			if !maps.Equal(got, want[r]) {
				t.Errorf("repo %d %s: got %d entries, want %d", r, name, len(got), len(want[r]))
			}
		}
		n := 0
		if err := x.Sessions(r, func(indexkey.SessionID, indexkey.SessionRecord) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != perRepo {
			t.Errorf("repo %d Sessions: got %d, want %d", r, n, perRepo)
		}
	}

	// A repository without entries, between populated ones, sees nothing.
	for _, r := range []uint32{3, 255, 258, 65536, math.MaxUint32 - 1} {
		if err := x.Chunks(r, func(id format.ID, _ indexkey.ChunkLoc) error {
			t.Errorf("empty repo %d yields %s", r, id.Short())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	// A chunk of repository 256 is missing from repository 1.
	x2 := seqID(78, 0)
	b = x.NewBatch()
	b.PutChunk(256, x2, testLoc(1))
	commit(t, b)
	if m, err := x.Missing(1, []format.ID{x2}, nil); err != nil || len(m) != 1 {
		t.Errorf("Missing(1) of a chunk of repository 256: got %v, %v", m, err)
	}
	if m, err := x.Missing(256, []format.ID{x2}, nil); err != nil || len(m) != 0 {
		t.Errorf("Missing(256) of its own chunk: got %v, %v", m, err)
	}
}

// TestScanStops: a scan returns fn's error unchanged and calls fn no more.
func TestScanStops(t *testing.T) {
	x := newIndex(t)
	b := x.NewBatch()
	for i := range 10 {
		b.PutChunk(1, seqID(1, uint64(i)), testLoc(i))
	}
	commit(t, b)
	errStop := errors.New("stop")
	calls := 0
	err := x.Chunks(1, func(format.ID, indexkey.ChunkLoc) error {
		calls++
		if calls == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop || calls != 3 {
		t.Fatalf("got %v after %d calls, want errStop after 3", err, calls)
	}
}

// TestUnpinAll removes exactly one session's pins: not another session's
// in the same repository, not the same session ID's in another repository.
func TestUnpinAll(t *testing.T) {
	x := newIndex(t)
	s1, s2 := indexkey.SessionID{1}, indexkey.SessionID{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	b := x.NewBatch()
	for i := range 20 {
		id := seqID(5, uint64(i))
		b.Pin(1, s1, id)
		b.Pin(1, s2, id)
		b.Pin(2, s1, id)
	}
	b.PutSession(1, s1, indexkey.SessionRecord{Lease: t0})
	commit(t, b)

	b = x.NewBatch()
	b.UnpinAll(1, s1)
	b.DeleteSession(1, s1)
	commit(t, b)

	count := func(r uint32, s indexkey.SessionID) int {
		n := 0
		if err := x.Pins(r, s, func(format.ID) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(1, s1); n != 0 {
		t.Errorf("repo 1 session 1: %d pins left", n)
	}
	if n := count(1, s2); n != 20 {
		t.Errorf("repo 1 session 2: %d pins, want 20", n)
	}
	if n := count(2, s1); n != 20 {
		t.Errorf("repo 2 session 1: %d pins, want 20", n)
	}
	var sessions []indexkey.SessionID
	if err := x.AllPins(1, func(s indexkey.SessionID, _ format.ID) error {
		if !slices.Contains(sessions, s) {
			sessions = append(sessions, s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0] != s2 {
		t.Errorf("AllPins(1) sessions: got %x, want only session 2", sessions)
	}
	if _, err := x.GetSession(1, s1); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("GetSession after delete: %v", err)
	}
}

func TestReposAndTokens(t *testing.T) {
	x := newIndex(t)
	names := []string{"zeta", "alpha", "m-1"}
	for _, n := range names {
		if _, err := x.CreateRepo(n); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := x.Repos(func(name string, r indexkey.RepoRecord) error {
		if id, err := x.RepoID(name); err != nil || id != r.ID {
			t.Errorf("RepoID(%s) = %d, %v; record says %d", name, id, err, r.ID)
		}
		got = append(got, name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"alpha", "m-1", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("Repos: got %v, want %v", got, want)
	}

	b := x.NewBatch()
	for i := range 5 {
		b.PutToken(indexkey.TokenHash{byte(i)}, indexkey.TokenRecord{Repo: uint32(i), Role: indexkey.RoleRestore, Created: t0})
	}
	commit(t, b)
	n := 0
	if err := x.Tokens(func(h indexkey.TokenHash, r indexkey.TokenRecord) error {
		if h[0] != byte(n) || r.Repo != uint32(n) {
			t.Errorf("token %d: got hash %x repo %d", n, h[:1], r.Repo)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("Tokens: got %d, want 5", n)
	}
}

package index_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

func TestCreateRepo(t *testing.T) {
	dir := t.TempDir()
	x := openIndex(t, dir)
	for i, name := range []string{"a", "b-2", "c"} {
		id, err := x.CreateRepo(name)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint32(i + 1); id != want {
			t.Errorf("CreateRepo(%s) = %d, want %d", name, id, want)
		}
		if got, err := x.RepoName(id); err != nil || got != name {
			t.Errorf("RepoName(%d) = %q, %v", id, got, err)
		}
	}
	if _, err := x.CreateRepo("b-2"); !errors.Is(err, index.ErrExists) {
		t.Errorf("duplicate: got %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "-a", "A", "a/b", "..", string(make([]byte, 64))} {
		if _, err := x.CreateRepo(bad); !errors.Is(err, index.ErrInvalid) {
			t.Errorf("CreateRepo(%q): got %v, want ErrInvalid", bad, err)
		}
		if _, err := x.RepoID(bad); !errors.Is(err, index.ErrInvalid) {
			t.Errorf("RepoID(%q): got %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := x.RepoID("nope"); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("RepoID(nope): got %v, want ErrNotFound", err)
	}
	if _, err := x.RepoName(99); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("RepoName(99): got %v, want ErrNotFound", err)
	}

	// The next ID follows the highest ever registered, across a reopen and
	// past a gap left by a rebuilt repository.
	b := x.NewBatch()
	b.PutRepo("rebuilt", indexkey.RepoRecord{ID: 300, Created: t0})
	commit(t, b)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = openIndex(t, dir)
	if id, err := x.CreateRepo("d"); err != nil || id != 301 {
		t.Errorf("CreateRepo after reopen: got %d, %v; want 301", id, err)
	}
}

// TestCreateRepoConcurrent: concurrent creations get distinct IDs.
func TestCreateRepoConcurrent(t *testing.T) {
	x := newIndex(t)
	const n = 20
	ids := make([]uint32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = x.CreateRepo(string(rune('a' + i))) })
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[ids[i]] || ids[i] < 1 || ids[i] > n {
			t.Errorf("ID %d given twice or out of range", ids[i])
		}
		seen[ids[i]] = true
	}
}

package index_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/index"
)

// TestOpenLocked: a second Open of a directory in use fails with ErrLocked,
// both from this process and from another one.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	x := openIndex(t, dir)

	_, err := index.Open(dir, index.Options{})
	if !errors.Is(err, index.ErrLocked) {
		t.Fatalf("second Open in process: got %v, want ErrLocked", err)
	}

	out, err := child(t, "open", dir).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("child Open: got %v (%s), want exit code 3", err, out)
	}
	if msg := string(out); !strings.Contains(msg, "index is in use by another process") {
		t.Fatalf("child Open error %q does not say the index is in use", msg)
	}
	t.Logf("child saw: %s", strings.TrimSpace(string(out)))

	// Once closed, the directory opens again, here and in a child.
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := child(t, "open", dir).CombinedOutput(); err != nil {
		t.Fatalf("child Open after Close: %v (%s)", err, out)
	}
	openIndex(t, dir)
}

// TestCommitSurvivesKill: a child commits with sync and kills itself with
// SIGKILL; the parent reopens and finds everything.
func TestCommitSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	out, err := child(t, "commit-and-die", dir).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child: got %v (%s), want death by SIGKILL", err, out)
	}
	x := openIndex(t, dir)
	for i := range 100 {
		loc, err := x.GetChunk(1, seqID(1, uint64(i)))
		if err != nil {
			t.Fatalf("chunk %d after kill: %v", i, err)
		}
		if loc != testLoc(i) {
			t.Fatalf("chunk %d after kill: got %+v, want %+v", i, loc, testLoc(i))
		}
	}
}

func TestClosed(t *testing.T) {
	x, err := index.Open(t.TempDir(), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); !errors.Is(err, index.ErrClosed) {
		t.Errorf("second Close: got %v, want ErrClosed", err)
	}
	if _, err := x.GetChunk(1, seqID(1, 1)); !errors.Is(err, index.ErrClosed) {
		t.Errorf("GetChunk after Close: got %v, want ErrClosed", err)
	}
	if _, err := x.Missing(1, nil, nil); !errors.Is(err, index.ErrClosed) {
		t.Errorf("Missing after Close: got %v, want ErrClosed", err)
	}
	if err := x.NewBatch().Commit(true); !errors.Is(err, index.ErrClosed) {
		t.Errorf("Commit after Close: got %v, want ErrClosed", err)
	}
}

func TestOpenOptions(t *testing.T) {
	for _, o := range []index.Options{
		{MemTableSize: 1 << 20},
		{MemTableSize: 1 << 30},
		{CacheSize: -1},
	} {
		if _, err := index.Open(t.TempDir(), o); !errors.Is(err, index.ErrInvalid) {
			t.Errorf("Open(%+v): got %v, want ErrInvalid", o, err)
		}
	}
}

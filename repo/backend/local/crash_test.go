package local_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
)

var errCrash = errors.New("simulated crash")

func newStore(t *testing.T) (*local.Backend, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b, dir
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			found = append(found, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestCrashBeforeRename: a Put that dies after writing and syncing the
// temporary file, before the rename, leaves no visible object; CleanTemp
// removes the leftover once it is old enough.
func TestCrashBeforeRename(t *testing.T) {
	ctx := context.Background()
	b, dir := newStore(t)
	const name = "r/packs/ab/shard.00"
	b.SetCrashHook(func(backend.Name) error { return errCrash })
	if err := b.Put(ctx, name, backend.Bytes([]byte("half a life"))); !errors.Is(err, errCrash) {
		t.Fatalf("Put: got %v, want the crash", err)
	}
	b.SetCrashHook(nil)

	if _, err := b.Stat(ctx, name); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat after crash: got %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final file exists after crash: %v", err)
	}
	temps := tempFiles(t, dir)
	if len(temps) != 1 || filepath.Dir(temps[0]) != filepath.Join(dir, "r/packs/ab") {
		t.Fatalf("temporary files after crash: %q, want one in the object's directory", temps)
	}
	listed := 0
	if err := b.List(ctx, "", func(backend.Info) error { listed++; return nil }); err != nil || listed != 0 {
		t.Fatalf("List after crash: %d objects, %v; want none", listed, err)
	}

	// A fresh temporary file may belong to a Put in progress: kept.
	if n, err := b.CleanTemp(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("CleanTemp(1h) of a fresh temp file: removed %d, %v; want 0", n, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(temps[0], old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := b.CleanTemp(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("CleanTemp(1h) of a 2h-old temp file: removed %d, %v; want 1", n, err)
	}
	if temps := tempFiles(t, dir); len(temps) != 0 {
		t.Fatalf("temporary files after CleanTemp: %q", temps)
	}

	// The retried Put succeeds.
	if err := b.Put(ctx, name, backend.Bytes([]byte("whole"))); err != nil {
		t.Fatal(err)
	}
	got, err := backend.ReadAll(ctx, b, name, 0, -1)
	if err != nil || string(got) != "whole" {
		t.Fatalf("after retry: %q, %v", got, err)
	}
}

// TestCrashKeepsOldObject: a crashed overwrite leaves the previous object
// whole.
func TestCrashKeepsOldObject(t *testing.T) {
	ctx := context.Background()
	b, _ := newStore(t)
	if err := b.Put(ctx, "obj", backend.Bytes([]byte("old"))); err != nil {
		t.Fatal(err)
	}
	b.SetCrashHook(func(backend.Name) error { return errCrash })
	if err := b.Put(ctx, "obj", backend.Bytes([]byte("new content"))); !errors.Is(err, errCrash) {
		t.Fatalf("Put: %v", err)
	}
	got, err := backend.ReadAll(ctx, b, "obj", 0, -1)
	if err != nil || string(got) != "old" {
		t.Fatalf("after crashed overwrite: %q, %v; want old", got, err)
	}
}

// TestFailedPutCleansUp: an ordinary failure (here a short payload) removes
// its temporary file at once.
func TestFailedPutCleansUp(t *testing.T) {
	ctx := context.Background()
	b, dir := newStore(t)
	err := b.Put(ctx, "a/obj", shortPayload{})
	if !errors.Is(err, backend.ErrPayload) {
		t.Fatalf("Put: %v", err)
	}
	if temps := tempFiles(t, dir); len(temps) != 0 {
		t.Fatalf("temporary files after failed Put: %q", temps)
	}
}

type shortPayload struct{}

func (shortPayload) Len() int64 { return 100 }
func (shortPayload) Open() io.Reader {
	return strings.NewReader("short")
}

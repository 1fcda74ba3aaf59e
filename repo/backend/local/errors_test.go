package local_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
)

// TestErrorsNameObjectsNotPaths: system call errors keep their errno and gain
// a backend sentinel, and their messages do not contain the store's absolute
// directory.
func TestErrorsNameObjectsNotPaths(t *testing.T) {
	b, _ := newStore(t)
	for _, tc := range []struct {
		errno syscall.Errno
		kind  error
	}{
		{syscall.ENOSPC, backend.ErrFull},
		{syscall.EDQUOT, backend.ErrFull},
		{syscall.EROFS, backend.ErrReadOnly},
		{syscall.EACCES, backend.ErrPermission},
		{syscall.EIO, nil},
	} {
		cause := &fs.PathError{Op: "write", Path: filepath.Join(b.Root(), "r/.tmp-123"), Err: tc.errno}
		err := b.WrapErr("put", "r/obj", cause)
		if !errors.Is(err, tc.errno) {
			t.Errorf("%v: errors.Is(err, errno) is false: %v", tc.errno, err)
		}
		if tc.kind != nil && !errors.Is(err, tc.kind) {
			t.Errorf("%v: errors.Is(err, %v) is false: %v", tc.errno, tc.kind, err)
		}
		if strings.Contains(err.Error(), b.Root()) || !strings.Contains(err.Error(), "put r/obj") {
			t.Errorf("%v: message %q: want the object name and not the directory", tc.errno, err)
		}
	}
	// An error without an errno keeps its chain but loses the directory.
	cause := &fs.PathError{Op: "open", Path: filepath.Join(b.Root(), "x"), Err: fs.ErrClosed}
	err := b.WrapErr("get", "x", cause)
	if !errors.Is(err, fs.ErrClosed) || strings.Contains(err.Error(), b.Root()) {
		t.Errorf("redacted error %q (chain kept: %v)", err, errors.Is(err, fs.ErrClosed))
	}
}

// TestRealErrorsAreRedacted provokes real file system errors: a name whose
// parent is a file.
func TestRealErrorsAreRedacted(t *testing.T) {
	ctx := context.Background()
	b, dir := newStore(t)
	if err := b.Put(ctx, "file", backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	err := b.Put(ctx, "file/child", backend.Bytes([]byte("y")))
	if err == nil {
		t.Fatal("Put under a file succeeded")
	}
	if !errors.Is(err, syscall.ENOTDIR) || strings.Contains(err.Error(), dir) {
		t.Fatalf("Put under a file: %q; want ENOTDIR without the directory", err)
	}
	// Looking up through a file is "does not exist", not an error.
	if _, err := b.Stat(ctx, "file/child"); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat through a file: %v", err)
	}
	if err := b.Delete(ctx, "file/child"); err != nil {
		t.Fatalf("Delete through a file: %v", err)
	}
	// A directory is not an object.
	if err := b.Put(ctx, "d/obj", backend.Bytes([]byte("z"))); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "d"); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat of a directory: %v", err)
	}
	if _, err := b.Get(ctx, "d", 0, -1); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Get of a directory: %v", err)
	}
	if err := b.Delete(ctx, "d"); err != nil {
		t.Fatalf("Delete of a directory: %v", err)
	}
	if _, err := b.Stat(ctx, "d/obj"); err != nil {
		t.Fatalf("Delete of a directory removed its content: %v", err)
	}
}

func TestNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != dir {
		t.Fatalf("String() = %q, want %q", b.String(), dir)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store directory: %v, %v", fi, err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := local.New(file); err == nil {
		t.Fatal("New on a file succeeded")
	}
	if _, err := local.New(""); err == nil {
		t.Fatal("New(\"\") succeeded")
	}
	// A relative directory is shown as given.
	t.Chdir(t.TempDir())
	b, err = local.New("stores/one")
	if err != nil || b.String() != "stores/one" {
		t.Fatalf("relative: %v, %v", b, err)
	}
}

func TestFileModes(t *testing.T) {
	b, dir := newStore(t)
	if err := b.Put(context.Background(), "x/y", backend.Bytes([]byte("z"))); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{"x": 0o700, "x/y": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, path))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
}

// TestGoneStoreIsUnavailable: a Put into a store whose directory has been
// removed is ErrUnavailable (not a bare "no such file"), keeps ENOENT in
// the chain and names no path; once the directory is back, Put works.
func TestGoneStoreIsUnavailable(t *testing.T) {
	ctx := context.Background()
	b, dir := newStore(t)
	if err := os.Rename(dir, dir+".gone"); err != nil {
		t.Fatal(err)
	}
	err := b.Put(ctx, "ab/cd", backend.Bytes([]byte("x")))
	if !errors.Is(err, backend.ErrUnavailable) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Put into a gone store: got %v, want ErrUnavailable wrapping ENOENT", err)
	}
	if strings.Contains(err.Error(), dir) {
		t.Errorf("message %q names the directory", err)
	}
	if err := os.Rename(dir+".gone", dir); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "ab/cd", backend.Bytes([]byte("x"))); err != nil {
		t.Fatalf("Put once the store is back: %v", err)
	}
	// A missing object in a present store stays ErrNotExist.
	if _, err := b.Stat(ctx, "no/such"); !errors.Is(err, backend.ErrNotExist) || errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("Stat of a missing object: got %v, want ErrNotExist only", err)
	}
}

// TestGoneStoreListAndDelete: once the store's directory is gone (an
// unmounted disk), List and Delete say ErrUnavailable. A listing that came
// back empty would tell rebuild-index the store holds nothing, and a delete
// that succeeded would tell GC a shard is gone that is still on the disk.
// Reads say both ErrUnavailable and ErrNotExist: the object cannot be read,
// and the erasure layer rebuilds from the other stores, reporting the
// shards unavailable rather than missing. An empty directory in its place
// (a replaced disk) is a store again.
func TestGoneStoreListAndDelete(t *testing.T) {
	ctx := context.Background()
	b, dir := newStore(t)
	if err := b.Put(ctx, "r/packs/ab/obj", backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, dir+".gone"); err != nil {
		t.Fatal(err)
	}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, backend.ErrUnavailable) || errors.Is(err, backend.ErrNotExist) {
			t.Errorf("%s on a gone store: got %v, want ErrUnavailable only", op, err)
		}
		if err != nil && strings.Contains(err.Error(), dir) {
			t.Errorf("%s: message %q names the directory", op, err)
		}
	}
	check("List", b.List(ctx, "", func(backend.Info) error { return nil }))
	check("List with a prefix", b.List(ctx, "r/packs/", func(backend.Info) error { return nil }))
	check("Delete", b.Delete(ctx, "r/packs/ab/obj"))
	if _, err := b.Stat(ctx, "r/packs/ab/obj"); !errors.Is(err, backend.ErrNotExist) || !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("Stat on a gone store: %v, want ErrNotExist and ErrUnavailable", err)
	}
	if _, err := b.Get(ctx, "r/packs/ab/obj", 0, -1); !errors.Is(err, backend.ErrNotExist) || !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("Get on a gone store: %v, want ErrNotExist and ErrUnavailable", err)
	}

	// A replaced disk: an empty directory lists nothing and misses objects.
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := b.List(ctx, "", func(backend.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("List of an empty replacement: %d objects, %v", n, err)
	}
	if _, err := b.Stat(ctx, "r/packs/ab/obj"); !errors.Is(err, backend.ErrNotExist) || errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("Stat on an empty replacement: %v, want ErrNotExist only", err)
	}
	if err := b.Delete(ctx, "r/packs/ab/obj"); err != nil {
		t.Fatalf("Delete of a missing object: %v", err)
	}
}

package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
)

func putBytes(t *testing.T, b *local.Backend, name backend.Name, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), name, backend.Bytes(data)); err != nil {
		t.Fatal(err)
	}
}

// TestGetReadsInPieces reads a range one byte at a time: every Read returns
// the next byte of the range, and then io.EOF, also when asked again.
func TestGetReadsInPieces(t *testing.T) {
	b, _ := newStore(t)
	data := bytes.Repeat([]byte("0123456789"), 100)
	putBytes(t, b, "r/obj", data)
	rc, err := b.Get(context.Background(), "r/obj", 95, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []byte
	one := make([]byte, 1)
	for {
		n, err := rc.Read(one)
		got = append(got, one[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data[95:115]) {
		t.Fatalf("got %q, want %q", got, data[95:115])
	}
	if n, err := rc.Read(one); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end: %d, %v; want 0, io.EOF", n, err)
	}
}

// TestGetEmptyRead: a Read into an empty buffer mid-object returns 0 and
// no error, as io.Reader allows, not a truncation error.
func TestGetEmptyRead(t *testing.T) {
	b, _ := newStore(t)
	putBytes(t, b, "r/obj", []byte("content"))
	rc, err := b.Get(context.Background(), "r/obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if n, err := rc.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil): %d, %v; want 0, nil", n, err)
	}
	if got, err := io.ReadAll(rc); err != nil || string(got) != "content" {
		t.Fatalf("then ReadAll: %q, %v", got, err)
	}
}

// TestGetTruncatedUnderReader: an object truncated after Get opened it is
// damage, reported as io.ErrUnexpectedEOF, never a short read that looks
// complete.
func TestGetTruncatedUnderReader(t *testing.T) {
	b, dir := newStore(t)
	putBytes(t, b, "r/obj", make([]byte, 4096))
	rc, err := b.Get(context.Background(), "r/obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := os.Truncate(filepath.Join(dir, "r", "obj"), 1000); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read of a truncated object: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestGetClose: Close releases the descriptor, a second Close is a no-op,
// and a Read after Close fails instead of reading some other file that
// reused the descriptor number.
func TestGetClose(t *testing.T) {
	b, _ := newStore(t)
	putBytes(t, b, "r/obj", []byte("content"))
	before := openFDs(t)
	for range 200 {
		rc, err := b.Get(context.Background(), "r/obj", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := rc.Read(make([]byte, 4)); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read after Close: %v, want os.ErrClosed", err)
		}
	}
	if after := openFDs(t); after > before {
		t.Fatalf("%d descriptors open after 200 Get and Close, %d before", after, before)
	}
}

// TestGetCanceledWhileReading: a reader stops once its context is done.
func TestGetCanceledWhileReading(t *testing.T) {
	b, _ := newStore(t)
	putBytes(t, b, "r/obj", make([]byte, 100))
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := b.Get(ctx, "r/obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cancel()
	if _, err := rc.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel: %v, want context.Canceled", err)
	}
}

// TestGetDirectoryIsAbsent: a directory is not an object.
func TestGetDirectoryIsAbsent(t *testing.T) {
	b, _ := newStore(t)
	putBytes(t, b, "r/sub/obj", []byte("x"))
	rc, err := b.Get(context.Background(), "r/sub", 0, -1)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Get of a directory: %v, want ErrNotExist", err)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("SKIP: cannot count open descriptors: %v", err)
	}
	return len(ents)
}

//go:build linux

package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/holdfast-backup/holdfast/internal/directio"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// directTestStore returns a new store whose file system does direct I/O,
// holding one object of size bytes, and the object's bytes.
func directTestStore(t *testing.T, size int) (*Backend, backend.Name, []byte) {
	t.Helper()
	b, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	name := backend.Name("r/packs/ab/x.00")
	if err := b.Put(context.Background(), name, backend.Bytes(data)); err != nil {
		t.Fatal(err)
	}
	fd, err := openRead(b.path(name))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := directio.Set(fd); err == syscall.EINVAL {
		t.Skipf("%s does not do direct I/O (O_DIRECT refused), so Get reads through the page cache there", b.root)
	} else if err != nil {
		t.Fatal(err)
	}
	return b, name, data
}

// TestGetDirect reads ranges that start and end anywhere (mid-block, on a
// block, across the read window, at the end of the file) with reads of
// every size, and checks that Get used direct I/O for those of
// directMinRead bytes or more (and not for shorter ones) and returned
// exactly the object's bytes.
func TestGetDirect(t *testing.T) {
	const size = 3*directWindow + 1234
	b, name, data := directTestStore(t, size)
	ranges := [][2]int64{
		{0, -1}, {0, 1}, {1, 4094}, {4095, 2}, {4096, 4096}, {size - 1, 1},
		{size - 5000, -1}, {100, directWindow}, {directWindow - 1, directWindow + 2},
		{size, 0}, {7, directMinRead - 1}, {7, directMinRead},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 40 {
		off := rng.Int64N(size)
		ranges = append(ranges, [2]int64{off, rng.Int64N(size - off + 1)})
	}
	for _, rg := range ranges {
		for _, readSize := range []int{1 << 20, 4096, 1000, 7} {
			if readSize < 1000 && rg[1] > 1<<16 || rg[1] < 0 && readSize < 4096 {
				continue // byte-sized reads of megabytes only take time
			}
			end := int64(size)
			if rg[1] >= 0 {
				end = rg[0] + rg[1]
			}
			got := getRange(t, b, name, rg[0], rg[1], readSize, end-rg[0] >= directMinRead)
			if !bytes.Equal(got, data[rg[0]:end]) {
				t.Fatalf("range %d+%d read %d at a time: wrong bytes", rg[0], rg[1], readSize)
			}
		}
	}
	if b.noDirect.Load() {
		t.Fatal("the store gave up direct I/O")
	}
}

// TestGetBuffered: with direct I/O off (the file system refused it, or the
// store keeps its cache) Get reads the same bytes through the page cache.
func TestGetBuffered(t *testing.T) {
	const size = directWindow + 77
	b, name, data := directTestStore(t, size)
	b.noDirect.Store(true)
	if got := getRange(t, b, name, 5, size-10, 4096, false); !bytes.Equal(got, data[5:size-5]) {
		t.Fatal("buffered read: wrong bytes")
	}
}

// getRange reads [off, off+length) of name readSize bytes at a time, and
// checks the reader's mode.
func getRange(t *testing.T, b *Backend, name backend.Name, off, length int64, readSize int, direct bool) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), name, off, length)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got := rc.(*fileReader).direct; got != direct {
		t.Fatalf("Get of %d+%d: direct I/O %v, want %v", off, length, got, direct)
	}
	var out []byte
	buf := make([]byte, readSize)
	for {
		n, err := rc.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("range %d+%d: %v", off, length, err)
		}
	}
}

// TestPutDirect writes payloads of whole and partial blocks and windows
// with direct I/O, and reads back exactly their bytes and length.
func TestPutDirect(t *testing.T) {
	b, _, _ := directTestStore(t, directAlign)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{directAlign, directAlign + 1, 3*directAlign - 1,
		directWriteWindow, directWriteWindow + 1, 2*directWriteWindow + 12345} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		// The write itself, to see that it went direct.
		f, err := os.CreateTemp(b.root, tempPrefix+"*")
		if err != nil {
			t.Fatal(err)
		}
		direct, err := b.writePayload(ctx, f, backend.Bytes(data))
		f.Close()
		os.Remove(f.Name())
		if err != nil || !direct {
			t.Fatalf("%d bytes: direct %v, err %v; want a direct write", size, direct, err)
		}
		name := backend.Name(fmt.Sprintf("r/packs/cd/%d", size))
		if err := b.Put(ctx, name, backend.Bytes(data)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(b.path(name))
		if err != nil || fi.Size() != int64(size) {
			t.Fatalf("%d bytes: stored file %v, err %v", size, fi.Size(), err)
		}
		if got := getRange(t, b, name, 0, -1, 1<<20, size >= directMinRead); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back wrong bytes", size)
		}
	}
}

// TestPutDirectPayloadLength: a payload that yields more or fewer bytes
// than it claims is refused with ErrPayload on the direct path too, and
// leaves nothing behind.
func TestPutDirectPayloadLength(t *testing.T) {
	b, _, _ := directTestStore(t, directAlign)
	for _, c := range []struct{ have, claim int }{
		{directWriteWindow + 5, directWriteWindow + 4},
		{directWriteWindow, directWriteWindow + directAlign},
		{3 * directAlign, 2 * directAlign},
	} {
		p := lyingPayload{data: make([]byte, c.have), claim: int64(c.claim)}
		err := b.Put(context.Background(), "r/packs/ef/lie", p)
		if !errors.Is(err, backend.ErrPayload) {
			t.Fatalf("%d bytes claiming %d: %v, want ErrPayload", c.have, c.claim, err)
		}
		if _, err := os.Stat(b.path("r/packs/ef/lie")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%d bytes claiming %d left an object: %v", c.have, c.claim, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(b.root, "r", "packs", "ef"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("refused Puts left %d files behind", len(entries))
	}
}

type lyingPayload struct {
	data  []byte
	claim int64
}

func (p lyingPayload) Len() int64      { return p.claim }
func (p lyingPayload) Open() io.Reader { return bytes.NewReader(p.data) }

// refuseDirect makes the next direct read and write fail with EINVAL after
// doing part of the work, as a file system that accepts O_DIRECT and then
// refuses it would, until the test ends.
func refuseDirect(t *testing.T) {
	pread, write := preadDirect, writeDirect
	t.Cleanup(func() { preadDirect, writeDirect = pread, write })
	preadDirect = func(int, []byte, int64) (int, error) { return 0, syscall.EINVAL }
	writeDirect = func(f *os.File, b []byte, off int64) (int, error) {
		// One block written, then refused.
		n, err := f.WriteAt(b[:directAlign], off)
		if err != nil {
			return n, err
		}
		return n, syscall.EINVAL
	}
}

// TestDirectRefusedMidway: when the file system refuses a direct write or
// read after accepting O_DIRECT, Put and Get go on through the page cache
// from where they were, the bytes come out exact, and the store stops
// trying direct I/O.
func TestDirectRefusedMidway(t *testing.T) {
	const size = 2*directWriteWindow + 5000
	b, _, _ := directTestStore(t, directAlign)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	refuseDirect(t)
	ctx := context.Background()
	if err := b.Put(ctx, "r/packs/ab/refused", backend.Bytes(data)); err != nil {
		t.Fatal(err)
	}
	if !b.noDirect.Load() {
		t.Fatal("a refused direct write did not turn direct I/O off for the store")
	}
	// Get with direct I/O still on for this reader: the read is refused.
	b.noDirect.Store(false)
	rc, err := b.Get(ctx, "r/packs/ab/refused", 3, size-3)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if !rc.(*fileReader).direct {
		t.Fatal("Get did not try direct I/O")
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[3:]) {
		t.Fatal("read back wrong bytes after direct I/O was refused")
	}
	if !b.noDirect.Load() {
		t.Fatal("a refused direct read did not turn direct I/O off for the store")
	}
}

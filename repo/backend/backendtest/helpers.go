package backendtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// randBytes returns n pseudo-random bytes, the same for the same seed.
func randBytes(seed uint64, n int64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n+7)
	for i := int64(0); i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

func put(t *testing.T, b backend.Backend, name backend.Name, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), name, backend.Bytes(data)); err != nil {
		t.Fatalf("Put(%s, %d bytes): %v", name, len(data), err)
	}
}

func mustRead(t *testing.T, b backend.Backend, name backend.Name, off, n int64) []byte {
	t.Helper()
	got, err := backend.ReadAll(context.Background(), b, name, off, n)
	if err != nil {
		t.Fatalf("ReadAll(%s, %d, %d): %v", name, off, n, err)
	}
	return got
}

func checkRead(t *testing.T, b backend.Backend, name backend.Name, off, n int64, want []byte) {
	t.Helper()
	got := mustRead(t, b, name, off, n)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s, %d, %d): got %d bytes, want %d (content differs: %v)",
			name, off, n, len(got), len(want), len(got) == len(want))
	}
}

func checkAbsent(t *testing.T, b backend.Backend, name backend.Name) {
	t.Helper()
	if _, err := b.Stat(context.Background(), name); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat(%s): got %v, want ErrNotExist", name, err)
	}
	rc, err := b.Get(context.Background(), name, 0, -1)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Get(%s): got %v, want ErrNotExist", name, err)
	}
}

// listNames returns the sorted names List reports for prefix, failing on
// duplicates.
func listNames(t *testing.T, b backend.Backend, prefix string) []string {
	t.Helper()
	names := []string{}
	seen := map[backend.Name]bool{}
	err := b.List(context.Background(), prefix, func(fi backend.Info) error {
		if seen[fi.Name] {
			t.Errorf("List(%q) reported %s twice", prefix, fi.Name)
		}
		seen[fi.Name] = true
		names = append(names, string(fi.Name))
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	sort.Strings(names)
	return names
}

// payload is a backend.Payload whose readers can misbehave.
type payload struct {
	data   []byte
	len    int64
	onRead func() // called on every Read
}

func (p *payload) Len() int64 { return p.len }

func (p *payload) Open() io.Reader { return &payloadReader{p: p, r: bytes.NewReader(p.data)} }

type payloadReader struct {
	p *payload
	r *bytes.Reader
}

func (r *payloadReader) Read(b []byte) (int, error) {
	if r.p.onRead != nil {
		r.p.onRead()
	}
	// Small reads, so that a store gets the chance to notice the context
	// between them.
	if len(b) > 1024 {
		b = b[:1024]
	}
	return r.r.Read(b)
}

package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

func TestMarker(t *testing.T) {
	dir := t.TempDir()
	b, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Marker(); ok || err != nil {
		t.Fatalf("fresh store: marker %v, %v", ok, err)
	}
	if empty, err := b.Empty(); !empty || err != nil {
		t.Fatalf("fresh store: empty %v, %v", empty, err)
	}
	if err := b.Mark(7); err != nil {
		t.Fatal(err)
	}
	if id, ok, err := b.Marker(); id != 7 || !ok || err != nil {
		t.Fatalf("marker: %d %v %v, want 7", id, ok, err)
	}
	// The marker and a file system's lost+found leave the store empty;
	// an object does not.
	if err := os.Mkdir(filepath.Join(dir, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	if empty, err := b.Empty(); !empty || err != nil {
		t.Fatalf("marker and lost+found: empty %v, %v", empty, err)
	}
	ctx := context.Background()
	if err := b.Put(ctx, "r/packs/ab/x.00", backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if empty, err := b.Empty(); empty || err != nil {
		t.Fatalf("with an object: empty %v, %v", empty, err)
	}
	n := 0
	if err := b.List(ctx, "", func(backend.Info) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("List lists %d objects (%v), want the object and not the marker", n, err)
	}
	for _, bad := range []string{"", "{}", `{"holdfast_store":"x"}`, `{"holdfast_store":70000}`, strings.Repeat(" ", maxMarkerSize+1)} {
		if err := os.WriteFile(filepath.Join(dir, MarkerName), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Marker(); err == nil || strings.Contains(err.Error(), dir) {
			t.Errorf("marker %q: %v, want an error that names no path", bad, err)
		}
	}
}

// TestSetUnavailable: every operation of a store made unavailable fails
// with ErrUnavailable, saying why; reads also with ErrNotExist. Clearing
// it brings the store back.
func TestSetUnavailable(t *testing.T) {
	b, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Put(ctx, "r/packs/ab/x.00", backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	b.SetUnavailable("test reason")
	_, gerr := b.Get(ctx, "r/packs/ab/x.00", 0, -1)
	_, serr := b.Stat(ctx, "r/packs/ab/x.00")
	for op, err := range map[string]error{
		"Put":    b.Put(ctx, "r/packs/cd/y.00", backend.Bytes([]byte("y"))),
		"List":   b.List(ctx, "", func(backend.Info) error { return nil }),
		"Delete": b.Delete(ctx, "r/packs/ab/x.00"),
		"Get":    gerr,
		"Stat":   serr,
	} {
		if !errors.Is(err, backend.ErrUnavailable) || !strings.Contains(err.Error(), "test reason") {
			t.Errorf("%s: %v, want ErrUnavailable with the reason", op, err)
		}
		if (op == "Get" || op == "Stat") != errors.Is(err, backend.ErrNotExist) {
			t.Errorf("%s: %v: ErrNotExist only for reads", op, err)
		}
	}
	b.SetUnavailable("")
	if _, err := b.Stat(ctx, "r/packs/ab/x.00"); err != nil {
		t.Fatalf("after clearing: %v (the Delete above must not have run)", err)
	}
}

package backendtest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// BadNames are names every store refuses with backend.ErrInvalidName.
var BadNames = []backend.Name{
	"", "/abs", "trail/", "a//b", "..", "../up", "a/../b", "a/./b", ".", ".hidden",
	"a/.tmp-123", "sp ace", `back\slash`, "colon:", "nul\x00", "é", "a/b?c",
	backend.Name(strings.Repeat("a", backend.MaxNameLen+1)),
	backend.Name(strings.Repeat("b", 256)),
}

func testInvalidNames(t *testing.T, b backend.Backend, _ config) {
	ctx := context.Background()
	for _, name := range BadNames {
		if err := b.Put(ctx, name, backend.Bytes([]byte("x"))); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Put(%q): got %v, want ErrInvalidName", name, err)
		}
		rc, err := b.Get(ctx, name, 0, -1)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Get(%q): got %v, want ErrInvalidName", name, err)
		}
		if _, err := b.Stat(ctx, name); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Stat(%q): got %v, want ErrInvalidName", name, err)
		}
		if err := b.Delete(ctx, name); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Delete(%q): got %v, want ErrInvalidName", name, err)
		}
	}
	for _, prefix := range []string{"/", "/a", "a//", "../", "a/..", ".", "a/.", "sp ace"} {
		err := b.List(ctx, prefix, func(backend.Info) error { return nil })
		if !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("List(%q): got %v, want ErrInvalidName", prefix, err)
		}
	}
	if got := listNames(t, b, ""); len(got) != 0 {
		t.Fatalf("refused names left objects behind: %q", got)
	}
}

func testPayloadLength(t *testing.T, b backend.Backend, _ config) {
	for _, p := range []*payload{
		{data: []byte("12345"), len: 10},
		{data: []byte("123456789012345"), len: 10},
		{data: nil, len: 1},
	} {
		err := b.Put(context.Background(), "payload/obj", p)
		if !errors.Is(err, backend.ErrPayload) {
			t.Errorf("Put of %d bytes claiming %d: got %v, want ErrPayload", len(p.data), p.len, err)
		}
		checkAbsent(t, b, "payload/obj")
	}
}

func testCanceled(t *testing.T, b backend.Backend, _ config) {
	put(t, b, "ctx/present", []byte("here"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with canceled context: got %v, want context.Canceled", op, err)
		}
	}
	check("Put", b.Put(ctx, "ctx/new", backend.Bytes([]byte("x"))))
	rc, err := b.Get(ctx, "ctx/present", 0, -1)
	if err == nil {
		rc.Close()
	}
	check("Get", err)
	_, err = b.Stat(ctx, "ctx/present")
	check("Stat", err)
	check("List", b.List(ctx, "", func(backend.Info) error { return nil }))
	check("Delete", b.Delete(ctx, "ctx/present"))
	checkAbsent(t, b, "ctx/new")
	checkRead(t, b, "ctx/present", 0, -1, []byte("here"))
}

// testCanceledDuringPut cancels while the store reads the payload: Put must
// fail and leave no object.
func testCanceledDuringPut(t *testing.T, b backend.Backend, _ config) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := randBytes(9, 64<<10)
	p := &payload{data: data, len: int64(len(data)), onRead: cancel}
	if err := b.Put(ctx, "ctx/torn", p); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put canceled while reading the payload: got %v, want context.Canceled", err)
	}
	checkAbsent(t, b, "ctx/torn")
	if got := listNames(t, b, ""); len(got) != 0 {
		t.Fatalf("canceled Put left %q", got)
	}
}

package backend_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
)

// lying is a store whose Get returns a fixed number of bytes whatever was
// asked, as a broken store or proxy might.
type lying struct {
	backend.Backend
	give int
}

func (l lying) Get(ctx context.Context, name backend.Name, off, n int64) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(make([]byte, l.give))), nil
}

func TestReadAllChecksLength(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		give    int
		length  int64
		wantErr bool
	}{
		{10, 10, false},
		{9, 10, true},
		{11, 10, true},
		{0, 0, false},
		{1, 0, true},
		{5, -1, false},
	} {
		got, err := backend.ReadAll(ctx, lying{give: tc.give}, "x", 0, tc.length)
		if tc.wantErr {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("store gives %d bytes, asked %d: got %v, want ErrUnexpectedEOF", tc.give, tc.length, err)
			}
			continue
		}
		if err != nil || len(got) != tc.give {
			t.Errorf("store gives %d bytes, asked %d: got %d bytes, %v", tc.give, tc.length, len(got), err)
		}
	}
}

func TestReadAllPassesErrors(t *testing.T) {
	_, err := backend.ReadAll(context.Background(), mem.New(), "absent", 0, 10)
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
}

func TestAs(t *testing.T) {
	m := mem.New()
	wrapped := faulty.Wrap(faulty.Wrap(m))
	r, ok := backend.As[backend.Retainer](wrapped)
	if !ok || r != backend.Retainer(m) {
		t.Fatalf("As[Retainer] through two decorators: %v, %v", r, ok)
	}
	if _, ok := backend.As[*faulty.Backend](wrapped); !ok {
		t.Fatal("As did not find the outer decorator itself")
	}
	if _, ok := backend.As[interface{ CleanTemp() }](wrapped); ok {
		t.Fatal("As found a capability nobody has")
	}
	if _, ok := backend.As[backend.Retainer](nil); ok {
		t.Fatal("As(nil) found something")
	}
}

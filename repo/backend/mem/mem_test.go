package mem_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/backendtest"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return mem.New() })
}

// shifty yields different bytes on every Open.
type shifty struct{ opens int }

func (s *shifty) Len() int64 { return 4 }
func (s *shifty) Open() io.Reader {
	s.opens++
	return strings.NewReader(fmt.Sprintf("v%03d", s.opens))
}

func TestPutRereadsPayload(t *testing.T) {
	b := mem.New()
	err := b.Put(context.Background(), "x", &shifty{})
	if !errors.Is(err, backend.ErrPayload) {
		t.Fatalf("Put of a payload that changes between reads: got %v, want ErrPayload", err)
	}
}

func TestGetReturnsCopies(t *testing.T) {
	ctx := context.Background()
	b := mem.New()
	if err := b.Put(ctx, "x", backend.Bytes([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	got, err := backend.ReadAll(ctx, b, "x", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got[0] = 'X'
	again, _ := backend.ReadAll(ctx, b, "x", 0, -1)
	if string(again) != "abc" {
		t.Fatalf("changing a Get result changed the store: %q", again)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	b := mem.New()
	until := time.Now().Add(time.Hour)
	if err := b.SetRetention(ctx, "x", backend.RetentionCompliance, until); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("SetRetention of a missing object: %v", err)
	}
	if err := b.Put(ctx, "x", backend.Bytes([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRetention(ctx, "x", backend.RetentionCompliance, until); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode  backend.RetentionMode
		until time.Time
	}{
		{backend.RetentionCompliance, until.Add(-time.Minute)},
		{backend.RetentionGovernance, until.Add(time.Hour)},
	} {
		if err := b.SetRetention(ctx, "x", tc.mode, tc.until); !errors.Is(err, backend.ErrPermission) {
			t.Errorf("SetRetention(%s, %v) over compliance: got %v, want ErrPermission", tc.mode, tc.until, err)
		}
	}
	if err := b.SetRetention(ctx, "x", backend.RetentionCompliance, until.Add(time.Hour)); err != nil {
		t.Fatalf("extending: %v", err)
	}
	r, ok := b.Retention("x")
	if !ok || r.Mode != backend.RetentionCompliance || !r.Until.Equal(until.Add(time.Hour)) {
		t.Fatalf("Retention = %+v, %v", r, ok)
	}
}

package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// TestToConnectStoreFaults: each store fault reaches the client with its
// own code and a one-line reason naming no path; a gone store is
// unavailable, not internal.
func TestToConnectStoreFaults(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const secret = "/srv/stores/s3"
	for _, tc := range []struct {
		kind error
		code connect.Code
		says string
	}{
		{backend.ErrUnavailable, connect.CodeUnavailable, "store is unavailable"},
		{backend.ErrReadOnly, connect.CodeUnavailable, "read-only"},
		{backend.ErrFull, connect.CodeResourceExhausted, "full"},
		{index.ErrDiskFull, connect.CodeResourceExhausted, "forgetting snapshots and gc free it"},
		{index.ErrNoRoom, connect.CodeResourceExhausted, "not even deletions"},
		{errors.New("something else"), connect.CodeInternal, "internal error"},
	} {
		err := fmt.Errorf("put pack: local: put %s/ab: %w (%w)", secret, tc.kind, syscall.ENOENT)
		got := toConnect(log, "upload", err)
		var ce *connect.Error
		if !errors.As(got, &ce) || ce.Code() != tc.code {
			t.Errorf("%v: got %v, want code %v", tc.kind, got, tc.code)
			continue
		}
		if msg := ce.Message(); !strings.Contains(msg, tc.says) || strings.Contains(msg, secret) || strings.Contains(msg, "\n") {
			t.Errorf("%v: message %q: want one line saying %q, no path", tc.kind, msg, tc.says)
		}
	}
}

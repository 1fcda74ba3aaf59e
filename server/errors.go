package server

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Errors of the server layer itself.
var (
	// errUnauthenticated: no token, a malformed one, an unknown or expired
	// one. The message never says which, so it cannot be used to probe.
	errUnauthenticated = errors.New("missing, unknown or expired token")
	// errDenied: the token is valid but its role or repository does not
	// allow the call.
	errDenied = errors.New("permission denied")
	// errBadRequest wraps malformed request fields.
	errBadRequest = errors.New("invalid request")
	// errNoSession: an unknown, expired or foreign upload session.
	errNoSession = errors.New("no such upload session (unknown, expired or aborted)")
)

// ErrBusy is what an injected collector returns (wrapped) when a garbage
// collection of the repository is already running; it is answered as
// failed_precondition.
var ErrBusy = errors.New("busy")

// toConnect maps any error a handler meets to a Connect error. It is the
// only place that does: engine errors keep their meaning (not found, invalid,
// data loss), everything unexpected becomes Internal with a generic message,
// and the details go to the log, never to the client (they may hold paths).
func toConnect(log *slog.Logger, op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	code, public := classify(err)
	if code == connect.CodeInternal || code == connect.CodeDataLoss || code == connect.CodeUnavailable || code == connect.CodeResourceExhausted {
		log.Error("request failed", "op", op, "code", code.String(), "err", err)
	}
	return connect.NewError(code, errors.New(public))
}

// classify returns the Connect code and the message a client may see.
func classify(err error) (connect.Code, string) {
	switch {
	case errors.Is(err, errUnauthenticated):
		return connect.CodeUnauthenticated, errUnauthenticated.Error()
	case errors.Is(err, errDenied), errors.Is(err, repo.ErrLockRefused):
		return connect.CodePermissionDenied, err.Error()
	case errors.Is(err, errNoSession):
		return connect.CodeNotFound, errNoSession.Error()
	case errors.Is(err, errBadRequest), errors.Is(err, repo.ErrInvalid):
		return connect.CodeInvalidArgument, err.Error()
	case errors.Is(err, repo.ErrMissingChunks), errors.Is(err, repo.ErrLocked), errors.Is(err, ErrBusy):
		return connect.CodeFailedPrecondition, err.Error()
	case errors.Is(err, repo.ErrExists):
		return connect.CodeAlreadyExists, err.Error()
	case errors.Is(err, repo.ErrNotFound), errors.Is(err, repo.ErrNoRepository):
		return connect.CodeNotFound, err.Error()
	case errors.Is(err, erasure.ErrUnrecoverable), errors.Is(err, repo.ErrLost), format.IsCorrupt(err):
		return connect.CodeDataLoss, "stored data is damaged beyond repair (see the server log)"
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, "deadline exceeded"
	// A store that cannot take writes is the operator's to fix; the client
	// hears which kind of fault it is (the log names the store) and can
	// retry later: nothing was committed.
	case errors.Is(err, index.ErrNoRoom):
		return connect.CodeResourceExhausted, "the server's index disk is full to the last byte: nothing can be recorded, not even deletions, until space is freed on that disk"
	case errors.Is(err, index.ErrDiskFull):
		return connect.CodeResourceExhausted, "the server's index disk is full: no new data can be stored until space is freed (forgetting snapshots and gc free it)"
	case errors.Is(err, backend.ErrFull):
		return connect.CodeResourceExhausted, "a store is full: no new data can be stored until space is freed"
	case errors.Is(err, backend.ErrReadOnly):
		return connect.CodeUnavailable, "a store is read-only: no new data can be stored until it is writable again"
	case errors.Is(err, backend.ErrUnavailable):
		return connect.CodeUnavailable, "a store is unavailable (a local disk gone or not mounted, or an S3 service that cannot be reached): no new data can be stored until it is back"
	case errors.Is(err, repo.ErrClosed):
		return connect.CodeUnavailable, "server is shutting down"
	}
	return connect.CodeInternal, "internal error (see the server log)"
}

package client

import (
	"errors"
	"fmt"
	"os"

	"connectrpc.com/connect"
)

// Errors the client returns, grouped by what the user must do.
var (
	// ErrWrongPassword: no key file of the repository opens with the
	// password given.
	ErrWrongPassword = errors.New("wrong password: no key file of this repository opens with it")
	// ErrNotInitialized: the repository has no key file yet (run init).
	ErrNotInitialized = errors.New("repository has no keys yet: run 'holdfast init' first")
	// ErrAlreadyInitialized: init on a repository that has keys.
	ErrAlreadyInitialized = errors.New("repository already has keys")
	// ErrDenied: the server refused the token (exit code 4).
	ErrDenied = errors.New("refused by the server")
)

// fromRPC turns a Connect error into a client error with one line that says
// what and why. Authentication and permission errors wrap ErrDenied, so the
// CLI can exit with code 4.
func fromRPC(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch ce.Code() {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return fmt.Errorf("%s: %w: %s", op, ErrDenied, ce.Message())
	case connect.CodeUnavailable:
		// Only a failure with no answer from the server (refused, reset,
		// timed out) is "unreachable"; an unavailable the server sent (a
		// store read-only or gone, shutting down) says what it is.
		if !connect.IsWireError(ce) {
			return fmt.Errorf("%s: server unreachable: %s", op, ce.Message())
		}
	}
	return fmt.Errorf("%s: %s: %s", op, ce.Code(), ce.Message())
}

// unwrapPathErr drops the *os.PathError around a system call's error: the
// caller names the file itself, and the wrapper would name it again
// ("/a/f: write: write f: no space left on device").
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

package backend

import "errors"

// Naming errors: returned before any storage is touched.
var (
	// ErrInvalidName is returned by every method given a name or prefix that
	// breaks the rules of [Name.Validate].
	ErrInvalidName = errors.New("backend: invalid object name")
)

// Lookup errors.
var (
	// ErrNotExist is returned (wrapped) by Get and Stat when the object does
	// not exist. Delete never returns it.
	ErrNotExist = errors.New("backend: object does not exist")

	// ErrRange is returned by Get when the requested range does not lie
	// inside the object: a negative offset, an offset past the end, or
	// offset+length past the end.
	ErrRange = errors.New("backend: range outside object")
)

// Store condition errors: the store refuses writes. They wrap the cause, so a
// local store's error also matches the syscall.Errno it came from.
var (
	// ErrFull is returned when the store is out of space or quota (ENOSPC,
	// EDQUOT).
	ErrFull = errors.New("backend: store is full")

	// ErrReadOnly is returned when the store is read-only (EROFS).
	ErrReadOnly = errors.New("backend: store is read-only")

	// ErrPermission is returned when the store refuses access (EACCES,
	// EPERM, S3 AccessDenied).
	ErrPermission = errors.New("backend: permission denied")

	// ErrUnavailable is returned when the store itself is gone: a local
	// store's directory was removed or unmounted. Nothing was written; the
	// operator must bring the store back. From Get and Stat it comes
	// together with ErrNotExist (the object cannot be read either way).
	ErrUnavailable = errors.New("backend: store unavailable")
)

// Payload errors.
var (
	// ErrPayload is returned by Put when the payload does not yield exactly
	// Len() bytes, or (in the mem store) yields different bytes when reread.
	ErrPayload = errors.New("backend: payload does not match its length")
)

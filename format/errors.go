package format

import (
	"errors"
	"fmt"
)

// ErrCorrupt is the one class of error every decoder in format/ returns for
// bytes that are not a valid encoding: truncated input, a bad magic number, an
// unknown version, a length that points past the end, a checksum or
// authentication tag that does not match. Test with errors.Is(err, ErrCorrupt)
// or [IsCorrupt]. Callers that see it must never use any part of the decoded
// value: a corrupt object is reported, not trusted.
var ErrCorrupt = errors.New("corrupt data")

// ErrVersion is returned (wrapped together with ErrCorrupt) when an object
// carries a format version this build does not understand. It lets a caller
// tell "written by a newer Holdfast" from bit rot when reporting.
var ErrVersion = errors.New("unsupported format version")

// corruptError carries a message and matches ErrCorrupt under errors.Is.
type corruptError struct {
	msg   string
	cause error
}

func (e *corruptError) Error() string { return e.msg }

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *corruptError) Unwrap() error { return e.cause }

// Corruptf formats a corruption error. The message should say what object
// and which field is wrong ("pack trailer: entry 3: offset past end"), never
// the bytes themselves. A %w verb in format wraps that error as the cause.
func Corruptf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &corruptError{msg: err.Error(), cause: errors.Unwrap(err)}
}

// IsCorrupt reports whether err, or any error it wraps, is ErrCorrupt.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }

// versionError is a corruption error that also matches ErrVersion.
type versionError struct{ corruptError }

func (e *versionError) Is(target error) bool { return target == ErrCorrupt || target == ErrVersion }

// VersionErrorf reports an unknown format version of an object.
func VersionErrorf(object string, got, want byte) error {
	return &versionError{corruptError{msg: fmt.Sprintf("%s: version %d is not supported (this build reads version %d)", object, got, want)}}
}

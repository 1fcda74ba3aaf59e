package docker

import "errors"

// Errors a caller may want to tell apart; each is wrapped with the object
// it concerns.
var (
	// ErrUnreachable: no Docker Engine answers at DOCKER_HOST (or the
	// default socket).
	ErrUnreachable = errors.New("docker engine unreachable")
	// ErrNotFound: the named volume or container does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotEmpty: a restore was asked to write into a volume that
	// already holds data (and was not created for this snapshot).
	ErrNotEmpty = errors.New("volume exists and is not empty")
	// ErrUnsupported: the volume or mount cannot be backed up from here
	// (its data is not at a path this process can read).
	ErrUnsupported = errors.New("not supported")
	// ErrHook: a hook command failed or timed out.
	ErrHook = errors.New("hook failed")
)

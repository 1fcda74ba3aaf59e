package index

import (
	"errors"
	"fmt"
)

// Open errors.
var (
	// ErrLocked is returned (wrapped, together with the cause) by Open when
	// another process, or another Index in this process, has the
	// directory open.
	ErrLocked = errors.New("index is in use by another process")
)

// Use errors.
var (
	// ErrClosed is returned by every method of an Index after Close, and by
	// a Batch after Commit or Close.
	ErrClosed = errors.New("index: closed")

	// ErrInvalid is returned for arguments no key can be made of: a
	// repository ID of 0, an invalid repository name.
	ErrInvalid = errors.New("index: invalid argument")

	// ErrDiskFull is returned (wrapped) by Commit for a batch that takes
	// new data in (chunks, pins, sessions, snapshots) while the index's
	// disk is full. Other batches still commit, so that forgetting
	// snapshots and collecting garbage can free space.
	ErrDiskFull = errors.New("index: the disk is full")

	// ErrNoRoom is ErrDiskFull (errors.Is finds both) for any batch, when
	// the index is full and the disk has no room even for the batch in
	// the write-ahead log: Pebble would panic on that write. Only space
	// freed outside the index ends it.
	ErrNoRoom = fmt.Errorf("%w: no room left even to record deletions", ErrDiskFull)
)

// Lookup errors.
var (
	// ErrNotFound is returned (wrapped) by the Get methods, RepoID and
	// RepoName when the key is absent.
	ErrNotFound = errors.New("index: not found")

	// ErrExists is returned by CreateRepo when the name is taken.
	ErrExists = errors.New("index: already exists")
)

package repo

import "errors"

// Errors returned by Repo, grouped by when they happen.
var (
	// ErrNoRepository is returned for a repository name or ID the index
	// does not know.
	ErrNoRepository = errors.New("no such repository")

	// ErrExists is returned when creating a repository whose name is taken.
	ErrExists = errors.New("repository already exists")

	// ErrNotFound is returned for a chunk, snapshot or key file the
	// repository does not hold.
	ErrNotFound = errors.New("not found")

	// ErrMissingChunks is returned by CommitSnapshot when the reference list
	// names chunks the repository does not hold.
	ErrMissingChunks = errors.New("snapshot references chunks the repository does not hold")

	// ErrInvalid is returned for a request that is malformed: a snapshot
	// header that does not decode, a reference list out of order, an
	// envelope that is too large.
	ErrInvalid = errors.New("invalid request")

	// ErrLost is returned when every copy of a stored object (a snapshot's
	// reference list, a key file) is missing or damaged.
	ErrLost = errors.New("no intact copy left")

	// ErrLocked is returned when forgetting or deleting a snapshot that a
	// governance lock protects: an admin may lift the lock first.
	ErrLocked = errors.New("snapshot is locked")

	// ErrLockRefused is returned for what a compliance lock forbids to
	// everyone, server admin included, until it expires: removing,
	// shortening or weakening it, and forgetting its snapshot.
	ErrLockRefused = errors.New("refused by a compliance lock")

	// ErrClosed is returned after Close.
	ErrClosed = errors.New("repository engine closed")
)

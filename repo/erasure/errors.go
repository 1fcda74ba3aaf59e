package erasure

import "errors"

// Configuration errors, returned by New.
var (
	// ErrConfig: New was given an impossible layout (k < 1, m < 0,
	// k+m > shard.MaxShards), no stores, a nil backend, a duplicate store ID
	// or a negative Parallelism.
	ErrConfig = errors.New("erasure: invalid configuration")
)

// Argument errors: the caller's description of a pack does not fit this
// Coder. They describe a bug or a stale index, never damaged data.
var (
	// ErrPlacement: a placement does not have one store ID per shard
	// (k+m), or names a store this Coder was not given. A pack written
	// under another k+m needs a Coder with that layout.
	ErrPlacement = errors.New("erasure: placement does not fit the coder")

	// ErrRange: ReadRange was asked for an empty range or one outside the
	// pack, or the pack length is impossible.
	ErrRange = errors.New("erasure: range outside pack")
)

// Read errors.
var (
	// ErrUnrecoverable is returned (wrapped) by ReadRange and ReadPack when
	// the requested bytes cannot be recovered: fewer than k shards of the
	// pack are usable, or even k hash-verified shards do not give bytes
	// that pass verification. The message says which pack and how many
	// shards were usable. No bytes are returned with it, ever.
	ErrUnrecoverable = errors.New("erasure: data unrecoverable from the shards left")
)

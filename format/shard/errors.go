package shard

import "errors"

// ErrTooFewShards is returned by Join and Reconstruct when fewer than k
// shards are present: the pack cannot be rebuilt from what was given. It
// is not format.ErrCorrupt; the shards given may all be sound.
var ErrTooFewShards = errors.New("shard: too few shards to reconstruct")

// errLayout reports bad k/m arguments to the coding helpers; it is the
// caller's mistake, not damaged data.
var errLayout = errors.New("shard: bad layout")

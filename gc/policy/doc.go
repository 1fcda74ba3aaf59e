// Package policy decides which snapshots a retention policy keeps. It is a
// pure function over the snapshots' clear headers (time, host, source,
// tags) and their locks, so the server can evaluate it without a key and
// tests can check it without a repository (SPEC.md §13.1).
//
// The semantics follow restic's `forget` (internal/restic/snapshot_policy.go),
// with the differences SPEC.md §13.1 lists: snapshots are grouped by host and
// source (kind and name); buckets use UTC; a locked snapshot is always kept.
package policy

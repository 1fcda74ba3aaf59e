// Package snaptest builds snapshots by hand for tests: entries are sealed,
// uploaded in one session and committed through the real server, without
// the backup code, so tests can commit what a correct client never would
// (tampered trees: path traversal names, duplicate entries, hostile
// symlinks, lying sizes). The encoded records and [RawTree] make trees the
// encoder refuses.
//
//	b, _ := snaptest.New(ctx, repo)
//	rec, _ := snaptest.Record(b.File("x", 0o644, []byte("data")))
//	id, _ := b.Commit(b.Tree(snaptest.RawTree(rec, rec))) // a duplicate entry
//
// The client's restore tests keep an older builder of their own in
// client/restore_helpers_test.go; new tests use this one.
package snaptest

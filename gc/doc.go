// Package gc implements retention policies (which snapshots to keep) and
// garbage collection (mark every chunk reachable from live snapshots, locked
// snapshots and pinned upload sessions; sweep the rest; repack packs that are
// mostly dead). It depends on package repo, never the reverse, and runs
// inside the server with no key: the snapshot headers and reference lists it
// reads are clear text (SPEC.md §10).
package gc

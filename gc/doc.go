// Package gc implements garbage collection (and, beside it, retention
// policies): mark every chunk reachable from the snapshots in the index,
// seal (keep what snapshots committed meanwhile reference or upload
// sessions pin, delete the rest from the index), delete packs left without
// a live chunk, repack mostly-dead ones and delete orphan shards. It
// depends on package repo, never the reverse, and runs inside the server
// with no key: the reference lists it reads are clear text (SPEC.md §7).
//
// The entry point is [Run]:
//
//	rep, err := gc.Run(ctx, engine, repoID, gc.Options{DryRun: true})
//	if errors.Is(err, gc.ErrBusy) { ... another run of this repository ... }
//
// It is safe while uploads, commits, forgets and restores run. The
// protocol and its argument are SPEC.md §13: the mark takes no lock; the
// seal runs in slices, each holding the repository's GC guard
// (repo.Repo.GCExclusive) against the shared holders FilterMissing,
// PutChunks and commit; pack deletion, repack and orphan deletion run
// under the repository's pack-writer lock (in package repo).
//
// Memory is bounded: reference lists are streamed and merged (at most 64
// at a time) into temporary files under DATA/.gc-<repo>/, and the chunk
// index is scanned against them in order, so only a per-pack table is
// held in memory (10M chunks: about 270 MiB peak RSS, mostly Pebble).
//
// Files: run.go (Run, GC state), mark.go and merge.go (mark), seal.go,
// packs.go, recfile.go (temporary record files), options.go (Options,
// Report). gc/internal/gcbench measures it.
package gc

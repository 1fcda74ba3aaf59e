package gc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Two snapshots share chunks; forgetting one frees exactly its own chunks,
// and a second GC finds nothing.
func TestSweepDeadKeepLive(t *testing.T) {
	f := newFixture(t, 64<<10)
	a, b := makeChunks(t, "a", 40, 8<<10), makeChunks(t, "b", 40, 8<<10)
	f.put(a)
	f.put(b)
	sa := f.commit(a, "a")
	f.commit(append(append([]chunk{}, a[20:]...), b...), "b")
	f.forget(sa)

	rep := f.gc(later())
	if rep.ChunksDead != 20 || rep.ChunksFreed != 20 || rep.ChunksLive != 60 {
		t.Fatalf("dead %d freed %d live %d, want 20 20 60", rep.ChunksDead, rep.ChunksFreed, rep.ChunksLive)
	}
	if in, _ := f.indexed(a[:20]); in != 0 {
		t.Fatalf("%d dead chunks still indexed", in)
	}
	f.mustRead(a[20:])
	f.mustRead(b)
	f.consistent()
	if rep.Epoch != 1 || rep.Interrupted {
		t.Fatalf("epoch %d interrupted %v", rep.Epoch, rep.Interrupted)
	}
	st, err := f.r.Index().GetGCState(f.repoID)
	if err != nil || st.Phase != indexkey.GCIdle || st.Epoch != 1 || st.Finished.IsZero() {
		t.Fatalf("gc state %+v, %v", st, err)
	}

	again := f.gc(later())
	if again.ChunksDead != 0 || again.PacksDeleted != 0 || again.PacksRepacked != 0 || again.OrphanShards != 0 {
		t.Fatalf("second GC still found work: %+v", again)
	}
}

// A pack all of whose chunks are dead is deleted, record and shards.
func TestEmptyPackDeleted(t *testing.T) {
	f := newFixture(t, 1<<20)
	a, b := makeChunks(t, "a", 30, 4<<10), makeChunks(t, "b", 30, 4<<10)
	f.put(a) // one pack
	f.put(b) // another
	sa := f.commit(a, "a")
	f.commit(b, "b")
	if f.packCount() != 2 {
		t.Fatalf("setup: %d packs", f.packCount())
	}
	shards := f.shardObjects()
	f.forget(sa)
	rep := f.gc(later())
	if rep.PacksDeleted != 1 || f.packCount() != 1 {
		t.Fatalf("deleted %d, %d packs left", rep.PacksDeleted, f.packCount())
	}
	if got := f.shardObjects(); got != shards-3 {
		t.Fatalf("%d shard objects, want %d", got, shards-3)
	}
	if rep.BytesFreed <= 0 || rep.StoredBytesFreed <= rep.BytesFreed {
		t.Fatalf("bytes freed %d stored %d", rep.BytesFreed, rep.StoredBytesFreed)
	}
	f.mustRead(b)
	f.consistent()
}

// A pack with a small live fraction is repacked; every live chunk reads
// back bit-exact from the new pack and the old shards are gone.
func TestSparsePackRepacked(t *testing.T) {
	f := newFixture(t, 1<<20)
	a := makeChunks(t, "a", 50, 4<<10)
	f.put(a)
	keep := a[:10] // about 20% live
	s1 := f.commit(a, "all")
	f.commit(keep, "keep")
	f.forget(s1)
	rep := f.gc(later())
	if rep.PacksRepacked != 1 || rep.PacksWritten != 1 || rep.ChunksMoved != 10 {
		t.Fatalf("repacked %d written %d moved %d", rep.PacksRepacked, rep.PacksWritten, rep.ChunksMoved)
	}
	if f.packCount() != 1 || f.shardObjects() != 3 {
		t.Fatalf("%d packs, %d shards after repack", f.packCount(), f.shardObjects())
	}
	f.mustRead(keep)
	f.consistent()
	if rep.BytesFreed <= 0 {
		t.Fatalf("bytes freed %d", rep.BytesFreed)
	}
	if again := f.gc(later()); again.PacksRepacked != 0 || again.ChunksDead != 0 {
		t.Fatalf("second GC: %+v", again)
	}
}

// Chunks a live session pins survive, whatever snapshots say.
func TestPinnedKept(t *testing.T) {
	f := newFixture(t, 64<<10)
	a := makeChunks(t, "a", 20, 4<<10)
	f.put(a)
	sid := indexkey.SessionID{1, 2, 3}
	b := f.r.Index().NewBatch()
	b.PutSession(f.repoID, sid, indexkey.SessionRecord{Created: time.Now(), Lease: time.Now().Add(time.Hour)})
	for _, c := range a[:5] {
		b.Pin(f.repoID, sid, c.id)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	rep := f.gc(later())
	if rep.ChunksPinned != 5 || rep.ChunksFreed != 15 {
		t.Fatalf("pinned %d freed %d", rep.ChunksPinned, rep.ChunksFreed)
	}
	f.mustRead(a[:5])
	// The pinned chunks can now be committed.
	f.commit(a[:5], "late")
	f.consistent()
}

// A snapshot committed after mark protects its chunks.
func TestDeltaSnapshotKept(t *testing.T) {
	f := newFixture(t, 64<<10)
	a := makeChunks(t, "a", 20, 4<<10)
	f.put(a)
	o := later()
	var committed bool
	o.hook = func(step string) {
		if step == "mark: chunks scanned" && !committed {
			committed = true
			f.commit(a[:7], "delta")
		}
	}
	rep := f.gc(o)
	if !committed || rep.SnapshotsNew != 1 || rep.ChunksNewRefs != 7 || rep.ChunksFreed != 13 {
		t.Fatalf("new %d kept %d freed %d", rep.SnapshotsNew, rep.ChunksNewRefs, rep.ChunksFreed)
	}
	f.mustRead(a[:7])
	f.consistent()
}

// Packs younger than the grace period keep even unreferenced chunks.
func TestGraceHonoured(t *testing.T) {
	f := newFixture(t, 64<<10)
	a := makeChunks(t, "a", 20, 4<<10)
	f.put(a)
	rep := f.gc(Options{}) // real clock: the packs are seconds old
	if rep.ChunksDead != 0 || rep.ChunksYoung != 20 || rep.PacksDeleted != 0 {
		t.Fatalf("young %d dead %d deleted %d", rep.ChunksYoung, rep.ChunksDead, rep.PacksDeleted)
	}
	if in, _ := f.indexed(a); in != 20 {
		t.Fatalf("%d of 20 indexed", in)
	}
	if _, err := Run(context.Background(), f.r, f.repoID, Options{Grace: MinGrace - time.Second}); err == nil {
		t.Fatal("a grace shorter than MinGrace was accepted")
	}
}

// A dry run reports what a real run then does, and changes nothing.
func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, 32<<10)
	a := makeChunks(t, "a", 60, 4<<10)
	f.put(a)
	s := f.commit(a, "all")
	f.commit(a[:8], "few")
	f.forget(s)
	before := f.shardObjects()
	packs := f.packCount()
	o := later()
	o.DryRun = true
	dry := f.gc(o)
	if dry.ChunksFreed != 52 || dry.PacksDeleted+dry.PacksRepacked == 0 {
		t.Fatalf("dry run found %+v", dry)
	}
	if in, _ := f.indexed(a); in != 60 || f.shardObjects() != before || f.packCount() != packs {
		t.Fatalf("dry run changed things: %d indexed, %d shards, %d packs", in, f.shardObjects(), f.packCount())
	}
	if _, err := f.r.Index().GetGCState(f.repoID); err == nil {
		t.Fatal("dry run recorded a GC state")
	}
	real := f.gc(later())
	if real.ChunksFreed != dry.ChunksFreed || real.PacksDeleted != dry.PacksDeleted ||
		real.PacksRepacked != dry.PacksRepacked || real.BytesDead != dry.BytesDead {
		t.Fatalf("dry %+v\nreal %+v", dry, real)
	}
	f.mustRead(a[:8])
	f.consistent()
}

// Packs holding chunks of a locked snapshot are not repacked; a pack under
// retention is not deleted.
func TestLockedAndRetainedKept(t *testing.T) {
	f := newFixture(t, 1<<20)
	a, b := makeChunks(t, "a", 40, 4<<10), makeChunks(t, "b", 40, 4<<10)
	f.put(a)
	f.put(b)
	s := f.commit(a, "all")
	locked := f.commit(a[:5], "locked")
	f.forget(s)
	var bPack indexkey.PackRecord
	loc, _ := f.r.Index().GetChunk(f.repoID, b[0].id)
	bPack, _ = f.r.Index().GetPack(f.repoID, loc.Pack)
	bPack.RetainUntil = time.Now().Add(24 * time.Hour)
	batch := f.r.Index().NewBatch()
	batch.PutLock(f.repoID, locked, indexkey.LockRecord{Mode: indexkey.LockCompliance, Until: time.Now().Add(24 * time.Hour), Set: time.Now()})
	batch.PutPack(f.repoID, loc.Pack, bPack)
	if err := batch.Commit(true); err != nil {
		t.Fatal(err)
	}
	rep := f.gc(later())
	if rep.PacksRepacked != 0 || rep.PacksLocked != 1 || rep.PacksRetained != 1 || rep.PacksDeleted != 0 {
		t.Fatalf("repacked %d locked %d retained %d deleted %d", rep.PacksRepacked, rep.PacksLocked, rep.PacksRetained, rep.PacksDeleted)
	}
	if _, err := f.r.Index().GetPack(f.repoID, loc.Pack); err != nil {
		t.Fatalf("retained pack: %v", err)
	}
	f.mustRead(a[:5])
	f.consistent()
}

// Shard objects of packs the index does not know are deleted once older
// than the grace; shards of indexed packs are not.
func TestOrphanShardsRemoved(t *testing.T) {
	f := newFixture(t, 64<<10)
	a := makeChunks(t, "a", 10, 4<<10)
	f.put(a)
	f.commit(a, "a")
	before := f.shardObjects()
	orphan := backend.Name(testRepo + "/packs/ab/ab" + "00000000000000000000000000000000000000000000000000000000000000"[:62] + ".01")
	if err := f.stores[1].Backend.Put(context.Background(), orphan, backend.Bytes([]byte("left by a crash"))); err != nil {
		t.Fatal(err)
	}
	if rep := f.gc(Options{}); rep.OrphanShards != 0 {
		t.Fatal("a fresh orphan was deleted within the grace period")
	}
	rep := f.gc(later())
	if rep.OrphanShards != 1 || f.shardObjects() != before {
		t.Fatalf("orphans deleted %d, shards %d want %d", rep.OrphanShards, f.shardObjects(), before)
	}
	f.mustRead(a)
	f.consistent()
}

// A second Run while one is in progress gets ErrBusy.
func TestBusy(t *testing.T) {
	f := newFixture(t, 64<<10)
	f.put(makeChunks(t, "a", 5, 1<<10))
	o := later()
	reached, release := make(chan struct{}), make(chan struct{})
	o.hook = func(step string) {
		if step == "mark: snapshots listed" {
			close(reached)
			<-release
		}
	}
	done := make(chan error)
	go func() { _, err := Run(context.Background(), f.r, f.repoID, o); done <- err }()
	<-reached
	if _, err := Run(context.Background(), f.r, f.repoID, later()); !errors.Is(err, ErrBusy) {
		t.Fatalf("concurrent run: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A failed run leaves its phase recorded; the next one says so and
// completes.
func TestInterruptedRunVisible(t *testing.T) {
	f := newFixture(t, 64<<10)
	f.put(makeChunks(t, "a", 5, 1<<10))
	ctx, cancel := context.WithCancel(context.Background())
	o := later()
	o.hook = func(step string) {
		if step == "mark: chunks scanned" {
			cancel()
		}
	}
	if _, err := Run(ctx, f.r, f.repoID, o); err == nil {
		t.Fatal("cancelled run succeeded")
	}
	st, err := f.r.Index().GetGCState(f.repoID)
	if err != nil || st.Phase != indexkey.GCSweeping {
		t.Fatalf("state after failure %+v %v", st, err)
	}
	rep := f.gc(later())
	if !rep.Interrupted || rep.Epoch != 2 || rep.ChunksFreed != 5 {
		t.Fatalf("%+v", rep)
	}
}

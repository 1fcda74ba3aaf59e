package gc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
)

// A compliance-locked snapshot holds its space: it cannot be forgotten
// before its lock ends, and GC keeps its packs whole (no repack). Once the
// lock has expired, forget works and GC reclaims every byte it held.
func TestComplianceLockExpiryThenReclaim(t *testing.T) {
	f := newFixture(t, 64<<10)
	kept, locked := makeChunks(t, "kept", 20, 4<<10), makeChunks(t, "locked", 40, 4<<10)
	f.put(kept)
	f.put(locked)
	f.commit(kept, "kept")
	snap := f.commit(locked, "locked")
	start := time.Now()
	if _, err := f.r.SetLock(context.Background(), f.repoID, snap, indexkey.LockCompliance, start.Add(3*time.Hour), start); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

	// Two hours on: past the grace, still locked.
	if err := f.r.ForgetSnapshot(context.Background(), f.repoID, snap, start.Add(2*time.Hour)); !errors.Is(err, repo.ErrLockRefused) {
		t.Fatalf("forget of a compliance-locked snapshot: %v, want ErrLockRefused", err)
	}
	rep := f.gc(Options{Now: at(2 * time.Hour)})
	if rep.ChunksFreed != 0 || rep.PacksDeleted != 0 || rep.PacksRepacked != 0 {
		t.Fatalf("while locked: freed %d chunks, deleted %d packs, repacked %d", rep.ChunksFreed, rep.PacksDeleted, rep.PacksRepacked)
	}
	f.mustRead(locked)
	shardsLocked := f.shardObjects()

	// Four hours on: the lock has expired.
	if err := f.r.ForgetSnapshot(context.Background(), f.repoID, snap, start.Add(4*time.Hour)); err != nil {
		t.Fatalf("forget after the lock expired: %v", err)
	}
	rep = f.gc(Options{Now: at(4 * time.Hour)})
	if rep.ChunksFreed != int64(len(locked)) {
		t.Fatalf("freed %d chunks, want the %d of the forgotten snapshot", rep.ChunksFreed, len(locked))
	}
	if rep.BytesFreed == 0 || rep.StoredBytesFreed < rep.BytesFreed {
		t.Fatalf("bytes freed %d, stored %d", rep.BytesFreed, rep.StoredBytesFreed)
	}
	if n := f.shardObjects(); n >= shardsLocked {
		t.Fatalf("shard objects %d after reclaiming, %d before", n, shardsLocked)
	}
	if in, _ := f.indexed(locked); in != 0 {
		t.Fatalf("%d chunks of the forgotten snapshot still indexed", in)
	}
	f.mustRead(kept)
	f.consistent()
}

package repo

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
)

// The two tests below interleave a snapshot lock with a repack of the
// packs holding the snapshot's chunks, at the two points where they can
// cross. Either way, when both are done every pack holding a chunk of the
// locked snapshot must carry the lock's retention on every shard: a pack
// without it is one an attacker with the store's credentials can delete.

// TestLockRetainsPackRepackedDuringItsPass: a repack commits after the lock
// has looked up the snapshot's packs and before it retains them. The lock
// must follow the chunks into the new pack (and not fail on the old pack's
// record, which the repack deleted).
func TestLockRetainsPackRepackedDuringItsPass(t *testing.T) {
	ctx := context.Background()
	f := newLockFixture(t, 2)
	old := f.packsOf(t, f.snaps[0], f.snaps[1])
	if len(old) != 2 {
		t.Fatalf("fixture: %d packs, want 2 (one per snapshot)", len(old))
	}
	var res RepackResult
	once := false
	testHookRetainLookedUp = func() {
		if once {
			return
		}
		once = true
		var err error
		if res, err = f.r.Repack(ctx, f.repoID, old, 0, time.Now()); err != nil {
			t.Errorf("repack: %v", err)
		}
	}
	t.Cleanup(func() { testHookRetainLookedUp = nil })

	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if _, err := f.r.SetLock(ctx, f.repoID, f.snaps[0], indexkey.LockCompliance, until, time.Now()); err != nil {
		t.Fatalf("lock while a repack moved the snapshot's chunks: %v", err)
	}
	if !once || res.ChunksMoved == 0 || res.PacksRepacked != 2 {
		t.Fatalf("the repack did not run as planned: %+v", res)
	}
	now := f.packsOf(t, f.snaps[0])
	if slices.Contains(old, now[0]) {
		t.Fatalf("the snapshot's chunks are still in an old pack %s", now[0].Short())
	}
	f.assertRetained(t, now, until)
	f.assertReadable(t, f.snaps[0])
}

// TestRepackLeavesPackRetainedMeanwhile: a lock retains the old packs after
// the repack has read them and before it takes their locks. The repack must
// give up that batch rather than move the chunks into a new, unretained
// pack.
func TestRepackLeavesPackRetainedMeanwhile(t *testing.T) {
	ctx := context.Background()
	f := newLockFixture(t, 2)
	old := f.packsOf(t, f.snaps[0], f.snaps[1])
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	once := false
	testHookRepackBeforeLock = func() {
		if once {
			return
		}
		once = true
		if _, err := f.r.SetLock(ctx, f.repoID, f.snaps[0], indexkey.LockCompliance, until, time.Now()); err != nil {
			t.Errorf("lock: %v", err)
		}
	}
	t.Cleanup(func() { testHookRepackBeforeLock = nil })

	res, err := f.r.Repack(ctx, f.repoID, old, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !once {
		t.Fatal("the hook did not run: nothing was repacked")
	}
	if res.ChunksMoved != 0 || res.PacksWritten != 0 || res.PacksRepacked != 0 || res.Skipped != 2 {
		t.Fatalf("repack of packs retained meanwhile: %+v, want nothing moved and both skipped", res)
	}
	now := f.packsOf(t, f.snaps[0])
	f.assertRetained(t, now, until)
	f.assertReadable(t, f.snaps[0])
	// Once the retention has passed, the same packs repack normally.
	later := until.Add(time.Minute)
	if res, err = f.r.Repack(ctx, f.repoID, old, 0, later); err != nil || res.PacksRepacked != 2 {
		t.Fatalf("repack after the retention: %+v, %v", res, err)
	}
	f.assertReadable(t, f.snaps[0])
}

// packsOf returns the packs that hold the chunks of snaps, sorted.
func (f *lockFixture) packsOf(t *testing.T, snaps ...format.ID) []format.ID {
	t.Helper()
	all := map[format.ID]bool{}
	for _, id := range snaps {
		s, err := f.r.GetSnapshot(context.Background(), f.repoID, id)
		if err != nil {
			t.Fatal(err)
		}
		ret := f.r.newRetention(context.Background(), f.repoID, "locky", indexkey.LockCompliance, time.Now())
		packs, err := ret.packsOf(s)
		if err != nil || len(packs) == 0 {
			t.Fatalf("packs of snapshot %s: %d, %v", id.Short(), len(packs), err)
		}
		maps.Copy(all, packs)
	}
	return slices.SortedFunc(maps.Keys(all), format.ID.Compare)
}

// assertRetained checks that each pack records RetainUntil ≥ until and
// that every one of its shards has compliance retention ≥ until.
func (f *lockFixture) assertRetained(t *testing.T, packs []format.ID, until time.Time) {
	t.Helper()
	for _, id := range packs {
		rec, err := f.r.idx.GetPack(f.repoID, id)
		if err != nil {
			t.Fatalf("pack %s: %v", id.Short(), err)
		}
		if rec.RetainUntil.Before(until) {
			t.Errorf("pack %s records RetainUntil %v, want ≥ %v", id.Short(), rec.RetainUntil, until)
		}
		for i, sid := range rec.Stores {
			name := shard.ObjectName("locky", id, i)
			got, ok := f.r.stores[sid].Backend.(*mem.Backend).Retention(backend.Name(name))
			if !ok || got.Mode != backend.RetentionCompliance || got.Until.Before(until) {
				t.Errorf("%s on store %d: retention %+v (set: %v), want COMPLIANCE ≥ %v", name, sid, got, ok, until)
			}
		}
	}
}

// assertReadable reads every chunk the snapshot references.
func (f *lockFixture) assertReadable(t *testing.T, snap format.ID) {
	t.Helper()
	ctx := context.Background()
	s, err := f.r.GetSnapshot(ctx, f.repoID, snap)
	if err != nil {
		t.Fatal(err)
	}
	err = f.r.ReadRefs(ctx, s, func(id format.ID) error {
		_, err := f.r.ReadChunk(ctx, f.repoID, id)
		return err
	})
	if err != nil {
		t.Fatalf("read the locked snapshot's chunks: %v", err)
	}
}

// TestLockWalkBlocksOnlyItsSnapshot holds a lock's retention walk open and
// forgets two snapshots meanwhile: one on another lock stripe is forgotten
// at once; a forget of the snapshot being locked waits for the lock and is
// then refused by it.
func TestLockWalkBlocksOnlyItsSnapshot(t *testing.T) {
	ctx := context.Background()
	f := newLockFixture(t, 4)
	locked := f.snaps[0]
	other := format.ID{}
	for _, s := range f.snaps[1:] {
		if int(s[0])%len(f.r.locks) != int(locked[0])%len(f.r.locks) {
			other = s
			break
		}
	}
	if other.IsZero() {
		t.Fatal("fixture: every snapshot shares the locked one's stripe")
	}
	inWalk, release := make(chan struct{}), make(chan struct{})
	testHookRetainLookedUp = func() {
		close(inWalk)
		<-release
	}
	t.Cleanup(func() { testHookRetainLookedUp = nil })
	until := time.Now().Add(time.Hour)
	lockDone := make(chan error, 1)
	go func() {
		_, err := f.r.SetLock(ctx, f.repoID, locked, indexkey.LockCompliance, until, time.Now())
		lockDone <- err
	}()
	<-inWalk

	otherDone := make(chan error, 1)
	go func() { otherDone <- f.r.ForgetSnapshot(ctx, f.repoID, other, time.Now()) }()
	select {
	case err := <-otherDone:
		if err != nil {
			t.Fatalf("forget of another snapshot during the walk: %v", err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("forget of another snapshot waited for the lock's walk")
	}

	sameDone := make(chan error, 1)
	go func() { sameDone <- f.r.ForgetSnapshot(ctx, f.repoID, locked, time.Now()) }()
	time.Sleep(100 * time.Millisecond) // let the forget reach the mutex
	select {
	case err := <-sameDone:
		t.Fatalf("forget of the snapshot being locked did not wait for the lock: %v", err)
	default:
	}
	close(release)
	if err := <-lockDone; err != nil {
		t.Fatal(err)
	}
	if err := <-sameDone; !errors.Is(err, ErrLockRefused) {
		t.Fatalf("forget of the snapshot locked meanwhile: %v, want ErrLockRefused", err)
	}
}

package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
)

// lockFixture is an engine with snapshots to lock.
type lockFixture struct {
	r      *Repo
	cfg    Config
	repoID uint32
	snaps  []format.ID
}

func newLockFixture(t *testing.T, nsnaps int) *lockFixture {
	t.Helper()
	ctx := context.Background()
	cfg := testConfig(t, memStores(3), 2, 1)
	r := openRepo(t, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	repoID, err := r.CreateRepository(ctx, "locky")
	if err != nil {
		t.Fatal(err)
	}
	f := &lockFixture{r: r, cfg: cfg, repoID: repoID}
	for i := range nsnaps {
		chunks := makeChunks(t, fmt.Sprint("lock-", i), 6, 8<<10)
		putAll(t, r, repoID, chunks)
		h, refs := headerFor(t, chunks, fmt.Sprint("h", i))
		id, err := r.CommitSnapshot(ctx, repoID, h, RefsFromSlice(refs))
		if err != nil {
			t.Fatal(err)
		}
		f.snaps = append(f.snaps, id)
	}
	return f
}

var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func (f *lockFixture) set(snap format.ID, mode indexkey.LockMode, until, now time.Time) error {
	_, err := f.r.SetLock(context.Background(), f.repoID, snap, mode, until, now)
	return err
}

// TestLockRules walks a compliance and a governance lock through every
// change the rules allow or refuse.
func TestLockRules(t *testing.T) {
	ctx := context.Background()
	f := newLockFixture(t, 2)
	comp, gov := f.snaps[0], f.snaps[1]
	day := 24 * time.Hour

	if err := f.set(comp, indexkey.LockCompliance, t0.Add(-time.Second), t0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("until in the past: %v", err)
	}
	if err := f.set(format.ID{7}, indexkey.LockCompliance, t0.Add(day), t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lock of a missing snapshot: %v", err)
	}
	if err := f.set(comp, indexkey.LockCompliance, t0.Add(10*day), t0); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"shorten":       f.set(comp, indexkey.LockCompliance, t0.Add(9*day), t0),
		"to governance": f.set(comp, indexkey.LockGovernance, t0.Add(20*day), t0),
		"unlock":        f.r.RemoveLock(ctx, f.repoID, comp, t0.Add(day)),
		"forget":        f.r.ForgetSnapshot(ctx, f.repoID, comp, t0.Add(day)),
	} {
		if !errors.Is(err, ErrLockRefused) {
			t.Errorf("compliance %s: got %v, want ErrLockRefused", name, err)
		}
	}
	if err := f.set(comp, indexkey.LockCompliance, t0.Add(10*day), t0.Add(day)); err != nil {
		t.Fatalf("setting the same compliance lock again: %v", err)
	}
	if err := f.set(comp, indexkey.LockCompliance, t0.Add(30*day), t0.Add(day)); err != nil {
		t.Fatalf("extending a compliance lock: %v", err)
	}
	l, has, err := f.r.GetLock(f.repoID, comp)
	if err != nil || !has || !l.Until.Equal(t0.Add(30*day)) || l.Mode != indexkey.LockCompliance || !l.Set.Equal(t0.Add(day)) {
		t.Fatalf("lock after extension: %+v %v %v", l, has, err)
	}

	// Governance: shorten, change mode, lift; forgetting needs the unlock.
	if err := f.set(gov, indexkey.LockGovernance, t0.Add(10*day), t0); err != nil {
		t.Fatal(err)
	}
	if err := f.r.ForgetSnapshot(ctx, f.repoID, gov, t0); !errors.Is(err, ErrLocked) {
		t.Fatalf("forget under governance: %v", err)
	}
	if err := f.set(gov, indexkey.LockGovernance, t0.Add(2*day), t0); err != nil {
		t.Fatalf("shortening a governance lock: %v", err)
	}
	if err := f.r.RemoveLock(ctx, f.repoID, gov, t0); err != nil {
		t.Fatalf("lifting a governance lock: %v", err)
	}
	if err := f.r.RemoveLock(ctx, f.repoID, gov, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lifting a missing lock: %v", err)
	}
	if err := f.r.ForgetSnapshot(ctx, f.repoID, gov, t0); err != nil {
		t.Fatalf("forget after unlock: %v", err)
	}
	// Governance can be raised to compliance, which then binds.
	f2 := newLockFixture(t, 1)
	if err := f2.set(f2.snaps[0], indexkey.LockGovernance, t0.Add(day), t0); err != nil {
		t.Fatal(err)
	}
	if err := f2.set(f2.snaps[0], indexkey.LockCompliance, t0.Add(day), t0); err != nil {
		t.Fatalf("governance to compliance: %v", err)
	}
	if err := f2.r.RemoveLock(ctx, f2.repoID, f2.snaps[0], t0); !errors.Is(err, ErrLockRefused) {
		t.Fatalf("unlock after raising to compliance: %v", err)
	}
}

// TestForgetAfterExpiry: once a compliance lock's until has passed, forget
// works and removes the lock record and its object.
func TestForgetAfterExpiry(t *testing.T) {
	ctx := context.Background()
	f := newLockFixture(t, 1)
	snap := f.snaps[0]
	until := t0.Add(time.Hour)
	if err := f.set(snap, indexkey.LockCompliance, until, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.r.ForgetSnapshot(ctx, f.repoID, snap, until.Add(-time.Nanosecond)); !errors.Is(err, ErrLockRefused) {
		t.Fatalf("forget a nanosecond before expiry: %v", err)
	}
	// A new lock may replace an expired one, whatever its mode was.
	if err := f.set(snap, indexkey.LockGovernance, until.Add(time.Hour), until); err != nil {
		t.Fatalf("new lock over an expired compliance lock: %v", err)
	}
	if err := f.r.ForgetSnapshot(ctx, f.repoID, snap, until.Add(2*time.Hour)); err != nil {
		t.Fatalf("forget after expiry: %v", err)
	}
	if _, has, _ := f.r.GetLock(f.repoID, snap); has {
		t.Fatal("lock record survived the forget")
	}
	name := lockObject("locky", snap)
	for _, sid := range f.r.metaStores(name) {
		if _, err := f.r.stores[sid].Backend.Stat(ctx, backend.Name(name)); !errors.Is(err, backend.ErrNotExist) {
			t.Fatalf("lock object on store %d after forget: %v", sid, err)
		}
	}
	if _, err := f.r.GetSnapshot(ctx, f.repoID, snap); !errors.Is(err, ErrNotFound) {
		t.Fatalf("snapshot after forget: %v", err)
	}
}

// TestLockRetention: on stores with Object Lock (mem records it), every
// shard of the snapshot's packs and its meta objects get retention ≥ until
// in the lock's mode, and the pack records remember it.
func TestLockRetention(t *testing.T) {
	f := newLockFixture(t, 2)
	snap := f.snaps[0]
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if _, err := f.r.SetLock(context.Background(), f.repoID, snap, indexkey.LockCompliance, until, time.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := f.r.GetSnapshot(context.Background(), f.repoID, snap)
	if err != nil {
		t.Fatal(err)
	}
	ret := f.r.newRetention(context.Background(), f.repoID, "locky", indexkey.LockCompliance, until)
	packs, err := ret.packsOf(s)
	if err != nil || len(packs) == 0 {
		t.Fatalf("packs of the snapshot: %d, %v", len(packs), err)
	}
	check := func(sid uint16, name string) {
		t.Helper()
		got, ok := f.r.stores[sid].Backend.(*mem.Backend).Retention(backend.Name(name))
		if !ok || got.Mode != backend.RetentionCompliance || got.Until.Before(until) {
			t.Errorf("%s on store %d: retention %+v (%v), want COMPLIANCE ≥ %v", name, sid, got, ok, until)
		}
	}
	for id := range packs {
		rec, err := f.r.idx.GetPack(f.repoID, id)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.RetainUntil.Equal(until) {
			t.Errorf("pack %s RetainUntil %v, want %v", id.Short(), rec.RetainUntil, until)
		}
		for i, sid := range rec.Stores {
			check(sid, shard.ObjectName("locky", id, i))
		}
	}
	for _, name := range []string{headerObject("locky", snap), lockObject("locky", snap)} {
		for _, sid := range f.r.metaStores(name) {
			check(sid, name)
		}
	}
	for _, sid := range s.refs.Stores {
		check(sid, s.refs.Name)
	}
}

// TestRebuildRestoresLocks: rebuild-index brings back every lock from the
// lock objects, and scrub rewrites a lost lock object from the index.
func TestRebuildRestoresLocks(t *testing.T) {
	ctx := context.Background()
	f := newLockFixture(t, 3)
	if err := f.set(f.snaps[0], indexkey.LockCompliance, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	if err := f.set(f.snaps[1], indexkey.LockGovernance, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	// An extension rewrites the object; rebuild must see the new one.
	if err := f.set(f.snaps[0], indexkey.LockCompliance, t0.Add(48*time.Hour), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Scrub: delete every copy of one lock object, then repair.
	name := lockObject("locky", f.snaps[1])
	for _, sid := range f.r.metaStores(name) {
		f.r.stores[sid].Backend.Delete(ctx, backend.Name(name))
	}
	rep, err := f.r.Scrub(ctx, false)
	if err != nil || rep.MetaLost != 0 || rep.MetaRepaired != 0 {
		t.Fatalf("scrub without repair: %+v, %v (a lost lock object is rewritable from the index)", rep, err)
	}
	if rep, err = f.r.Scrub(ctx, true); err != nil || rep.MetaRepaired != len(f.r.metaStores(name)) {
		t.Fatalf("scrub with repair: %+v, %v", rep, err)
	}
	if rep, err = f.r.Scrub(ctx, false); err != nil || !rep.Healthy() || rep.MetaRepaired != 0 {
		t.Fatalf("scrub after repair: %+v, %v", rep, err)
	}
	if err := f.r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rb, err := RebuildIndex(ctx, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Locks != 2 || rb.Snapshots != 3 {
		t.Fatalf("rebuild: %+v, want 2 locks and 3 snapshots", rb)
	}
	r := openRepo(t, f.cfg)
	defer r.Close(ctx)
	want := map[format.ID]indexkey.LockRecord{
		f.snaps[0]: {Mode: indexkey.LockCompliance, Until: t0.Add(48 * time.Hour), Set: t0.Add(time.Minute)},
		f.snaps[1]: {Mode: indexkey.LockGovernance, Until: t0.Add(time.Hour), Set: t0},
	}
	for snap, w := range want {
		l, has, err := r.GetLock(f.repoID, snap)
		if err != nil || !has || l.Mode != w.Mode || !l.Until.Equal(w.Until) || !l.Set.Equal(w.Set) {
			t.Errorf("lock of %s after rebuild: %+v %v %v, want %+v", snap.Short(), l, has, err, w)
		}
	}
	if _, has, _ := r.GetLock(f.repoID, f.snaps[2]); has {
		t.Error("rebuild invented a lock")
	}
	// The locked snapshots' packs record their retention again, so GC's
	// repack leaves them alone as it did before the rebuild.
	for snap, w := range want {
		s, err := r.GetSnapshot(ctx, f.repoID, snap)
		if err != nil {
			t.Fatal(err)
		}
		packs, err := r.newRetention(ctx, f.repoID, "locky", w.Mode, w.Until).packsOf(s)
		if err != nil || len(packs) == 0 {
			t.Fatalf("packs of %s: %d, %v", snap.Short(), len(packs), err)
		}
		for id := range packs {
			if rec, err := r.idx.GetPack(f.repoID, id); err != nil || rec.RetainUntil.Before(w.Until) {
				t.Errorf("pack %s of locked snapshot %s after rebuild: RetainUntil %v (%v), want ≥ %v", id.Short(), snap.Short(), rec.RetainUntil, err, w.Until)
			}
		}
	}
	if err := r.ForgetSnapshot(ctx, f.repoID, f.snaps[0], t0); !errors.Is(err, ErrLockRefused) {
		t.Fatalf("forget of a rebuilt compliance lock: %v", err)
	}
}

package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/lockfile"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Locks (SPEC.md §13.2). A lock is two things: the index's LockRecord ('l'),
// which every check reads, and a lock object on the stores
// (<repo>/locks/<snapshot hex>, format/lockfile), from which rebuild-index
// restores it. Every rule is decided here, against a clock the caller
// passes (the server's), so the same rules bind every caller.
//
// Order of writes, and why each crash is safe:
//   - set or extend: S3 retentions first, then the lock object, then the
//     index. A crash before the index leaves a lock the index does not
//     know but rebuild-index would restore: stronger, never weaker.
//   - lift or shorten (governance only): the index first, then the object.
//     A crash in between leaves an object that rebuild-index would turn
//     back into the old lock: again the safe direction.
//
// Lock objects are the one kind of meta object rewritten under the same
// name (an extension rewrites it). Each rewrite is a whole, atomic Put; on
// an Object Lock bucket it is a new version and the old one stays retained.

func lockObject(repo string, snap format.ID) string { return repo + "/locks/" + snap.String() }

// lockBytes encodes a lock record as its lock object.
func lockBytes(snap format.ID, l indexkey.LockRecord) ([]byte, error) {
	return lockfile.Encode(lockfile.Lock{Snapshot: snap, Mode: lockfile.Mode(l.Mode), Until: l.Until, Set: l.Set})
}

// GetLock returns the lock of snapshot snap, and whether there is one. An
// expired lock is still returned (until it is removed); compare Until with
// the clock.
func (r *Repo) GetLock(repoID uint32, snap format.ID) (indexkey.LockRecord, bool, error) {
	l, err := r.idx.GetLock(repoID, snap)
	if errors.Is(err, index.ErrNotFound) {
		return l, false, nil
	}
	return l, err == nil, err
}

// active reports whether l protects its snapshot at now.
func active(l indexkey.LockRecord, now time.Time) bool { return l.Until.After(now) }

// SetLock locks snapshot snap until until in mode, at the clock reading
// now, and returns the lock now in force. Rules: until must be after now;
// an active compliance lock can only be extended and never weakened to
// governance (ErrLockRefused, whoever asks); an active governance lock may
// be changed freely (the caller has checked the right to do so). Setting
// the lock already in force changes nothing. Every store with Object Lock
// gets retention ≥ until on the snapshot's shards and meta objects before
// the lock is recorded.
func (r *Repo) SetLock(ctx context.Context, repoID uint32, snap format.ID, mode indexkey.LockMode, until, now time.Time) (indexkey.LockRecord, error) {
	if mode != indexkey.LockGovernance && mode != indexkey.LockCompliance {
		return indexkey.LockRecord{}, fmt.Errorf("lock mode %d: %w", mode, ErrInvalid)
	}
	if !until.After(now) {
		return indexkey.LockRecord{}, fmt.Errorf("lock until %s: must be in the future (server time %s): %w",
			until.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrInvalid)
	}
	defer r.snapLock(snap)()
	name, err := r.repoName(repoID)
	if err != nil {
		return indexkey.LockRecord{}, err
	}
	s, err := r.GetSnapshot(ctx, repoID, snap)
	if err != nil {
		return indexkey.LockRecord{}, err
	}
	old, has, err := r.GetLock(repoID, snap)
	if err != nil {
		return old, err
	}
	if has && active(old, now) {
		if err := checkChange(snap, old, mode, until); err != nil {
			return old, err
		}
		if old.Mode == mode && old.Until.Equal(until) {
			return old, nil
		}
	}
	rec := indexkey.LockRecord{Mode: mode, Until: until, Set: now}
	obj, err := lockBytes(snap, rec)
	if err != nil {
		return rec, fmt.Errorf("lock: %v: %w", err, ErrInvalid)
	}
	ret := r.newRetention(ctx, repoID, name, mode, until)
	if err := ret.snapshot(s); err != nil {
		return old, err
	}
	lockName := lockObject(name, snap)
	ref, err := r.putMeta(ctx, lockName, backend.Bytes(obj), hashOf(obj))
	if err != nil {
		return old, err
	}
	if err := ret.meta(lockName, ref.Stores); err != nil {
		return old, err
	}
	b := r.idx.NewBatch()
	defer b.Close()
	b.PutLock(repoID, snap, rec)
	if err := b.Commit(true); err != nil {
		return old, fmt.Errorf("lock snapshot %s: %w", snap.Short(), err)
	}
	return rec, nil
}

// snapLock takes the lock mutex of snapshot snap and returns its release.
func (r *Repo) snapLock(snap format.ID) (unlock func()) {
	mu := &r.locks[int(snap[0])%len(r.locks)]
	mu.Lock()
	return mu.Unlock
}

// checkChange applies the compliance rules to a change of an active lock.
func checkChange(snap format.ID, old indexkey.LockRecord, mode indexkey.LockMode, until time.Time) error {
	if old.Mode != indexkey.LockCompliance {
		return nil
	}
	if mode != indexkey.LockCompliance {
		return fmt.Errorf("snapshot %s: a compliance lock cannot become governance before it expires (%s): %w",
			snap.Short(), old.Until.UTC().Format(time.RFC3339), ErrLockRefused)
	}
	if until.Before(old.Until) {
		return fmt.Errorf("snapshot %s: a compliance lock cannot be shortened (it holds until %s; it can only be extended): %w",
			snap.Short(), old.Until.UTC().Format(time.RFC3339), ErrLockRefused)
	}
	return nil
}

// RemoveLock lifts the lock of snapshot snap at the clock reading now: a
// governance lock, or any expired lock. An active compliance lock is
// refused (ErrLockRefused, whoever asks); no lock is ErrNotFound. S3
// retentions already set stay until their date: they can only be extended.
func (r *Repo) RemoveLock(ctx context.Context, repoID uint32, snap format.ID, now time.Time) error {
	defer r.snapLock(snap)()
	return r.removeLock(ctx, repoID, snap, now)
}

// removeLock is RemoveLock with the snapshot's lock mutex held.
func (r *Repo) removeLock(ctx context.Context, repoID uint32, snap format.ID, now time.Time) error {
	name, err := r.repoName(repoID)
	if err != nil {
		return err
	}
	old, has, err := r.GetLock(repoID, snap)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("snapshot %s has no lock: %w", snap.Short(), ErrNotFound)
	}
	if old.Mode == indexkey.LockCompliance && active(old, now) {
		return fmt.Errorf("snapshot %s: a compliance lock cannot be lifted before it expires (%s): %w",
			snap.Short(), old.Until.UTC().Format(time.RFC3339), ErrLockRefused)
	}
	b := r.idx.NewBatch()
	defer b.Close()
	b.DeleteLock(repoID, snap)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("unlock snapshot %s: %w", snap.Short(), err)
	}
	lockName := lockObject(name, snap)
	if err := r.deleteMeta(ctx, indexkey.ObjectRef{Name: lockName, Stores: r.metaStores(lockName)}, lockName); err != nil {
		r.log.Warn("lock removed from the index, but some copies of its object remain; rebuild-index would restore it",
			"repo", name, "snapshot", snap.String(), "err", err)
	}
	return nil
}

// ForgetSnapshot deletes snapshot snap unless a lock protects it at now:
// an active compliance lock refuses with ErrLockRefused, an active
// governance lock with ErrLocked. An expired lock is removed first. It
// holds the snapshot's lock mutex throughout, so no lock can be set
// between the check and the deletion.
func (r *Repo) ForgetSnapshot(ctx context.Context, repoID uint32, snap format.ID, now time.Time) error {
	defer r.snapLock(snap)()
	l, has, err := r.GetLock(repoID, snap)
	if err != nil {
		return err
	}
	if has {
		if err := ForgetRefusal(snap, l, now); err != nil {
			return err
		}
		if err := r.removeLock(ctx, repoID, snap, now); err != nil {
			return err
		}
	}
	return r.DeleteSnapshot(ctx, repoID, snap)
}

// ForgetRefusal says why lock l forbids forgetting snapshot snap at now
// (ErrLockRefused for compliance, ErrLocked for governance), or returns nil
// when l has expired.
func ForgetRefusal(snap format.ID, l indexkey.LockRecord, now time.Time) error {
	if !active(l, now) {
		return nil
	}
	until := l.Until.UTC().Format(time.RFC3339)
	if l.Mode == indexkey.LockCompliance {
		return fmt.Errorf("snapshot %s is under a compliance lock until %s; nobody can forget it before then: %w", snap.Short(), until, ErrLockRefused)
	}
	return fmt.Errorf("snapshot %s is under a governance lock until %s; an admin must unlock it first: %w", snap.Short(), until, ErrLocked)
}

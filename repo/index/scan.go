package index

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// Scans call fn once per entry, in key order, on the caller's goroutine,
// and stop at fn's first error, which they return unchanged. Per-repository
// scans are bounded by the repository's key range, so they never see
// another repository's keys. A scan sees a consistent snapshot of the
// index taken when it starts. Values passed to fn never alias Pebble's
// memory.

// Chunks calls fn for every chunk location of repo.
func (x *Index) Chunks(repo uint32, fn func(id format.ID, loc indexkey.ChunkLoc) error) error {
	return scanIDs(x, indexkey.SpaceChunk, repo, indexkey.ParseChunkKey, indexkey.DecodeChunkLoc, fn)
}

// Packs calls fn for every pack record of repo.
func (x *Index) Packs(repo uint32, fn func(id format.ID, p indexkey.PackRecord) error) error {
	return scanIDs(x, indexkey.SpacePack, repo, indexkey.ParsePackKey, indexkey.DecodePackRecord, fn)
}

// Snapshots calls fn for every snapshot record of repo.
func (x *Index) Snapshots(repo uint32, fn func(id format.ID, s indexkey.SnapshotRecord) error) error {
	return scanIDs(x, indexkey.SpaceSnapshot, repo, indexkey.ParseSnapshotKey, decodeSnapshot, fn)
}

// Locks calls fn for every snapshot lock of repo.
func (x *Index) Locks(repo uint32, fn func(snap format.ID, l indexkey.LockRecord) error) error {
	return scanIDs(x, indexkey.SpaceLock, repo, indexkey.ParseLockKey, indexkey.DecodeLockRecord, fn)
}

// KeyFiles calls fn for every key file blob of repo.
func (x *Index) KeyFiles(repo uint32, fn func(id format.ID, blob []byte) error) error {
	decode := func(v []byte) ([]byte, error) {
		b, err := indexkey.DecodeKeyFile(v)
		return bytes.Clone(b), err
	}
	return scanIDs(x, indexkey.SpaceKeyFile, repo, indexkey.ParseKeyFileKey, decode, fn)
}

// Sessions calls fn for every upload session of repo.
func (x *Index) Sessions(repo uint32, fn func(s indexkey.SessionID, r indexkey.SessionRecord) error) error {
	lo, hi := indexkey.RepoPrefix(indexkey.SpaceSession, repo)
	return x.scan(lo, hi, func(k, v []byte) error {
		r, s, err := indexkey.ParseSessionKey(k)
		if err == nil {
			err = sameRepo(r, repo)
		}
		var rec indexkey.SessionRecord
		if err == nil {
			rec, err = indexkey.DecodeSessionRecord(v)
		}
		if err != nil {
			return decodeError(k, err)
		}
		return fn(s, rec)
	})
}

// Pins calls fn for every chunk session s of repo pins.
func (x *Index) Pins(repo uint32, s indexkey.SessionID, fn func(id format.ID) error) error {
	lo, hi := indexkey.PinPrefix(repo, s)
	return x.pins(lo, hi, repo, func(_ indexkey.SessionID, id format.ID) error { return fn(id) })
}

// AllPins calls fn for every pin of every session of repo: the chunks GC
// must keep besides those of live snapshots.
func (x *Index) AllPins(repo uint32, fn func(s indexkey.SessionID, id format.ID) error) error {
	lo, hi := indexkey.RepoPrefix(indexkey.SpacePin, repo)
	return x.pins(lo, hi, repo, fn)
}

func (x *Index) pins(lo, hi []byte, repo uint32, fn func(s indexkey.SessionID, id format.ID) error) error {
	return x.scan(lo, hi, func(k, v []byte) error {
		r, s, id, err := indexkey.ParsePinKey(k)
		if err == nil {
			err = sameRepo(r, repo)
		}
		if err == nil {
			err = indexkey.DecodePin(v)
		}
		if err != nil {
			return decodeError(k, err)
		}
		return fn(s, id)
	})
}

// Repos calls fn for every repository, in name order.
func (x *Index) Repos(fn func(name string, r indexkey.RepoRecord) error) error {
	lo, hi := indexkey.SpacePrefix(indexkey.SpaceRepo)
	return x.scan(lo, hi, func(k, v []byte) error {
		name, err := indexkey.ParseRepoKey(k)
		var rec indexkey.RepoRecord
		if err == nil {
			rec, err = indexkey.DecodeRepoRecord(v)
		}
		if err != nil {
			return decodeError(k, err)
		}
		return fn(name, rec)
	})
}

// Tokens calls fn for every token record, in hash order.
func (x *Index) Tokens(fn func(h indexkey.TokenHash, t indexkey.TokenRecord) error) error {
	lo, hi := indexkey.SpacePrefix(indexkey.SpaceToken)
	return x.scan(lo, hi, func(k, v []byte) error {
		h, err := indexkey.ParseTokenKey(k)
		var rec indexkey.TokenRecord
		if err == nil {
			rec, err = indexkey.DecodeTokenRecord(v)
		}
		if err != nil {
			return decodeError(k, err)
		}
		return fn(h, rec)
	})
}

// scanIDs scans one repository's keys of a keyspace whose keys end with an
// ID.
func scanIDs[T any](x *Index, space byte, repo uint32,
	parse func([]byte) (uint32, format.ID, error),
	decode func([]byte) (T, error),
	fn func(format.ID, T) error,
) error {
	lo, hi := indexkey.RepoPrefix(space, repo)
	return x.scan(lo, hi, func(k, v []byte) error {
		r, id, err := parse(k)
		if err == nil {
			err = sameRepo(r, repo)
		}
		var val T
		if err == nil {
			val, err = decode(v)
		}
		if err != nil {
			return decodeError(k, err)
		}
		return fn(id, val)
	})
}

// sameRepo double-checks the iterator bounds: a key of another repository
// inside repo's range would mean a broken key encoding.
func sameRepo(got, want uint32) error {
	if got != want {
		return format.Corruptf("key of repository %d in the range of repository %d", got, want)
	}
	return nil
}

// decodeError names the key whose bytes did not decode. err is already a
// format.ErrCorrupt-class error.
func decodeError(k []byte, err error) error {
	return fmt.Errorf("index: %s: %w", indexkey.Describe(k), err)
}

// describeRange names the range a scan starting at lo covers, for errors.
func describeRange(lo []byte) string {
	if len(lo) >= 5 {
		return fmt.Sprintf("%c/%d", lo[0], binary.BigEndian.Uint32(lo[1:5]))
	}
	return fmt.Sprintf("%q", lo)
}

// scan iterates [lo, hi) and calls fn with each key and value; both are
// valid only during the call. fn's errors are returned unchanged: the
// decoding wrappers above already name the key.
func (x *Index) scan(lo, hi []byte, fn func(k, v []byte) error) (err error) {
	if err := x.check(); err != nil {
		return err
	}
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("index: scan %s: %w", describeRange(lo), err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("index: scan %s: %w", describeRange(lo), cerr)
		}
	}()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("index: scan: read %s: %w", indexkey.Describe(it.Key()), err)
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("index: scan %s: %w", describeRange(lo), err)
	}
	return nil
}

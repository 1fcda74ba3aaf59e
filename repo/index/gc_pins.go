package index

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// PinsInRange calls fn for every chunk in [lo, hi] (inclusive, by ID order)
// that any session of repo pins, session by session and in chunk order
// within a session; a chunk pinned by two sessions is reported twice. It
// costs one seek per session that has pins plus one step per reported pin,
// so garbage collection can ask "is anything in this slice of candidates
// pinned?" without reading every pin of a large upload. Like the other
// scans it reads one consistent snapshot of the index.
func (x *Index) PinsInRange(repo uint32, lo, hi format.ID, fn func(id format.ID) error) (err error) {
	if err := x.check(); err != nil {
		return err
	}
	start, end := indexkey.RepoPrefix(indexkey.SpacePin, repo)
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return fmt.Errorf("index: pins in range: %w", err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("index: pins in range: %w", cerr)
		}
	}()
	// Keys are n‖repo‖session‖chunk: jump to the first session, then within
	// it to lo, walk to hi, then jump past the session.
	for ok := it.First(); ok; {
		r, sid, _, perr := indexkey.ParsePinKey(it.Key())
		if perr == nil {
			perr = sameRepo(r, repo)
		}
		if perr != nil {
			return decodeError(it.Key(), perr)
		}
		for ok = it.SeekGE(indexkey.PinKey(repo, sid, lo)); ok; ok = it.Next() {
			k := it.Key()
			r, s, id, perr := indexkey.ParsePinKey(k)
			if perr == nil {
				perr = sameRepo(r, repo)
			}
			if perr != nil {
				return decodeError(k, perr)
			}
			if s != sid || bytes.Compare(id[:], hi[:]) > 0 {
				break
			}
			if err := fn(id); err != nil {
				return err
			}
		}
		_, next := indexkey.PinPrefix(repo, sid)
		if next == nil {
			break
		}
		ok = it.SeekGE(next)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("index: pins in range: %w", err)
	}
	return nil
}

// PresentPins calls fn, in ascending order, for every chunk in [lo, hi]
// (inclusive) that session s of repo pins with a present pin
// (Batch.PinPresent). It costs one seek plus one step per pin of the
// session in the range, so a commit can merge its ascending references
// with them instead of looking each up.
func (x *Index) PresentPins(repo uint32, s indexkey.SessionID, lo, hi format.ID, fn func(id format.ID) error) (err error) {
	if err := x.check(); err != nil {
		return err
	}
	_, end := indexkey.PinPrefix(repo, s)
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: indexkey.PinKey(repo, s, lo), UpperBound: end})
	if err != nil {
		return fmt.Errorf("index: present pins: %w", err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("index: present pins: %w", cerr)
		}
	}()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		r, sid, id, perr := indexkey.ParsePinKey(k)
		if perr != nil {
			return decodeError(k, perr)
		}
		if r != repo || sid != s || bytes.Compare(id[:], hi[:]) > 0 {
			break
		}
		v, verr := it.ValueAndErr()
		if verr != nil {
			return fmt.Errorf("index: present pins: %w", verr)
		}
		present, perr := indexkey.DecodePinPresent(v)
		if perr != nil {
			return decodeError(k, perr)
		}
		if !present {
			continue
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("index: present pins: %w", err)
	}
	return nil
}

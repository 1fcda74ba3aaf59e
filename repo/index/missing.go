package index

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// Missing appends to missing every element of ids that repository repo
// does not hold, in the order of ids (an absent ID that occurs twice in ids
// is appended twice), and returns the extended slice. It only tests
// presence: values are not read.
//
// This is the upload hot path. It sorts a permutation of ids and answers
// from the presence table (presence.go) once one is built: a Bloom filter
// probe for most absent IDs, one small read of a sorted file for the
// rest, many reads to a system call. Until then, and whenever the table
// cannot answer, it walks one Pebble iterator through the IDs in
// ascending key order with SeekPrefixGE, which consults each table's
// bloom filter before reading a block, so an absent ID usually costs no
// data block read, and consecutive seeks move forward only.
func (x *Index) Missing(repo uint32, ids []format.ID, missing []format.ID) ([]format.ID, error) {
	if len(ids) == 0 {
		return missing, x.check()
	}
	if err := x.check(); err != nil {
		return missing, err
	}
	if repo == 0 {
		return missing, fmt.Errorf("%w: repository ID 0", ErrInvalid)
	}
	s := x.getScratch(len(ids))
	defer x.scratch.Put(s)
	sortIDs(ids, s)
	if !x.presence.lookup(repo, ids, s) {
		if err := x.walkSorted(repo, ids, s, nil); err != nil {
			return missing, err
		}
	}
	have := s.have
	for i := range ids {
		if have[i>>6]&(1<<(i&63)) == 0 {
			missing = append(missing, ids[i])
		}
	}
	return missing, nil
}

// Lookup finds the location of every element of ids in repository repo and
// calls fn(i, loc, ok) once per element, where i is its index in ids and ok
// reports whether the repository holds it. The calls come in key order, not
// in the order of ids. A value that does not decode ends the lookup with a
// format.ErrCorrupt-class error naming the key.
func (x *Index) Lookup(repo uint32, ids []format.ID, fn func(i int, loc indexkey.ChunkLoc, ok bool)) error {
	if len(ids) == 0 {
		return x.check()
	}
	s := x.getScratch(len(ids))
	defer x.scratch.Put(s)
	return x.walk(repo, ids, s, func(i int, it *pebble.Iterator, found bool) error {
		if !found {
			fn(i, indexkey.ChunkLoc{}, false)
			return nil
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("index: lookup %s: %w", indexkey.Describe(it.Key()), err)
		}
		loc, err := indexkey.DecodeChunkLoc(v)
		if err != nil {
			return decodeError(it.Key(), err)
		}
		fn(i, loc, true)
		return nil
	})
}

// scratch is the per-call working memory of Missing and Lookup, pooled so
// that a call allocates nothing per ID.
type scratch struct {
	order  []sorted // ids' indexes in key order
	tmp    []sorted // sortIDs' unordered copy
	counts []int32  // sortIDs' bucket boundaries
	have   []uint64 // Missing: bit i set when ids[i] is present
	key    [indexkey.IDKeyLen]byte
	p      pscratch // Missing's presence path
}

func (x *Index) getScratch(n int) *scratch {
	s, _ := x.scratch.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	s.order = slices.Grow(s.order[:0], n)[:n]
	words := (n + 63) / 64
	s.have = slices.Grow(s.have[:0], words)[:words]
	clear(s.have)
	return s
}

// walk seeks every ID of ids in repo's chunk keyspace, in ascending key
// order, sets bit i of s.have for every ids[i] present, and calls visit(i,
// it, found) once per element of ids unless visit is nil; when found, it is
// positioned on the ID's key. A duplicate ID is seeked once.
func (x *Index) walk(repo uint32, ids []format.ID, s *scratch,
	visit func(i int, it *pebble.Iterator, found bool) error,
) error {
	if err := x.check(); err != nil {
		return err
	}
	if repo == 0 {
		return fmt.Errorf("%w: repository ID 0", ErrInvalid)
	}
	sortIDs(ids, s)
	return x.walkSorted(repo, ids, s, visit)
}

// walkSorted is walk with s.order already sorted.
func (x *Index) walkSorted(repo uint32, ids []format.ID, s *scratch,
	visit func(i int, it *pebble.Iterator, found bool) error,
) error {
	return x.withChunkIter(repo, func(it *pebble.Iterator, lo []byte) error {
		return walkIter(it, lo, ids, s, visit)
	})
}

// walkIter is walkSorted's loop over an iterator of the chunk keyspace
// whose prefix is lo.
func walkIter(it *pebble.Iterator, lo []byte, ids []format.ID, s *scratch,
	visit func(i int, it *pebble.Iterator, found bool) error,
) error {
	order := s.order
	key := s.key[:]
	copy(key, lo)
	found := false
	for n, o := range order {
		id := &ids[o.i]
		// Equal heads are rare, so the whole ID is compared only then.
		if n == 0 || o.head != order[n-1].head || *id != ids[order[n-1].i] {
			copy(key[len(lo):], id[:])
			// The comparer's prefix of a key is the whole key, so
			// SeekPrefixGE is a point lookup that may skip a table on its
			// bloom filter; seeking in ascending order lets Pebble step
			// forward instead of seeking from the top (TrySeekUsingNext).
			found = it.SeekPrefixGE(key) && bytes.Equal(it.Key(), key)
			if !found {
				if err := it.Error(); err != nil {
					return fmt.Errorf("index: lookup %s: %w", indexkey.Describe(key), err)
				}
			}
		}
		if found {
			s.have[o.i>>6] |= 1 << (o.i & 63)
		}
		if visit != nil {
			if err := visit(o.i, it, found); err != nil {
				return err
			}
		}
	}
	return nil
}

// withChunkIter calls fn with an iterator over repo's chunk keys, set up
// for point lookups in ascending order, and the keyspace's prefix, and
// closes the iterator after.
func (x *Index) withChunkIter(repo uint32, fn func(it *pebble.Iterator, lo []byte) error) (err error) {
	lo, hi := indexkey.RepoPrefix(indexkey.SpaceChunk, repo)
	it, err := x.db.NewIter(&pebble.IterOptions{
		LowerBound: lo,
		UpperBound: hi,
		// Pebble skips the filters of the last level by default, betting
		// that a key looked up probably exists. Here half the IDs are
		// usually absent, and the last level holds most of the data.
		UseL6Filters: true,
	})
	if err != nil {
		return fmt.Errorf("index: lookup: %w", err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("index: lookup: %w", cerr)
		}
	}()
	return fn(it, lo)
}

// confirm looks up in Pebble the IDs at positions (ascending) of s.order
// and sets s.p.found for those present: the presence table's way of
// settling an ID put since its snapshot.
func (x *Index) confirm(repo uint32, ids []format.ID, s *scratch, positions []int) error {
	return x.withChunkIter(repo, func(it *pebble.Iterator, lo []byte) error {
		key := s.key[:]
		copy(key, lo)
		for _, n := range positions {
			copy(key[len(lo):], ids[s.order[n].i][:])
			s.p.found[n] = it.SeekPrefixGE(key) && bytes.Equal(it.Key(), key)
			if err := it.Error(); err != nil {
				return fmt.Errorf("index: lookup %s: %w", indexkey.Describe(key), err)
			}
		}
		return nil
	})
}

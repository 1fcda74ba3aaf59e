package index_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// TestMissing checks Missing and Lookup against a map, for random batches
// with duplicates, the empty batch, all present and all absent, with the
// index partly in memtables and partly in tables.
func TestMissing(t *testing.T) {
	x := newIndex(t)
	const repo, other = 7, 8
	have := map[format.ID]indexkey.ChunkLoc{}
	var present []format.ID
	for round := range 4 {
		b := x.NewBatch()
		for i := range 2000 {
			n := uint64(round*2000 + i)
			id, loc := seqID(1, n), testLoc(int(n))
			b.PutChunk(repo, id, loc)
			have[id] = loc
			present = append(present, id)
			b.PutChunk(other, seqID(2, n), loc) // held by another repository only
		}
		commit(t, b)
		if round%2 == 1 {
			// Half the entries in tables (behind bloom filters), half
			// in the memtable.
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Delete a few, so tombstones are in the way.
	b := x.NewBatch()
	for _, id := range present[:100] {
		b.DeleteChunk(repo, id)
		delete(have, id)
	}
	commit(t, b)

	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int, presentShare float64) []format.ID {
		ids := make([]format.ID, n)
		for i := range ids {
			switch r := rng.Float64(); {
			case r < presentShare:
				ids[i] = present[rng.IntN(len(present))]
			case r < presentShare+0.1 && i > 0:
				ids[i] = ids[rng.IntN(i)] // duplicate within the batch
			case r < presentShare+0.2:
				ids[i] = seqID(2, uint64(rng.IntN(8000))) // another repository's
			default:
				ids[i] = seqID(3, rng.Uint64())
			}
		}
		return ids
	}
	batches := map[string][]format.ID{
		"empty":       {},
		"one present": {present[500]},
		"one absent":  {seqID(3, 1)},
		"all present": pick(3000, 1),
		"all absent":  pick(3000, 0),
		"all one id":  slices.Repeat([]format.ID{present[900]}, 50),
		"deleted":     present[:100],
	}
	for i := range 10 {
		batches["random"+string(rune('0'+i))] = pick(rng.IntN(5000)+1, 0.5)
	}
	// Batches the way commits and parent pins send them: ascending slices
	// of the stored IDs, also reaching before the first and past the last
	// key; and a few IDs spread over all the keys.
	sortedPresent := slices.SortedFunc(slices.Values(present), func(a, b format.ID) int { return a.Compare(b) })
	batches["ascending"] = sortedPresent[1000:4000]
	edge := func(b byte, n int) []format.ID {
		ids := make([]format.ID, n)
		for i := range ids {
			ids[i] = seqID(4, uint64(i))
			copy(ids[i][:8], bytes.Repeat([]byte{b}, 8)) // before or after every stored ID
		}
		return ids
	}
	batches["before the first"] = append(edge(0, 50), sortedPresent[:200]...)
	batches["past the last"] = append(slices.Clone(sortedPresent[len(sortedPresent)-200:]), edge(0xff, 50)...)
	batches["sparse present"] = pick(8, 1)
	batches["sparse mixed"] = pick(20, 0.5)
	for name, ids := range batches {
		var want []format.ID
		for _, id := range ids {
			if _, ok := have[id]; !ok {
				want = append(want, id)
			}
		}
		prefix := []format.ID{seqID(99, 99)}
		got, err := x.Missing(repo, ids, slices.Clone(prefix))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, append(prefix, want...)) {
			t.Errorf("%s: Missing returned %d IDs, want %d (or a different order)", name, len(got)-1, len(want))
		}

		seen := make([]int, len(ids))
		err = x.Lookup(repo, ids, func(i int, loc indexkey.ChunkLoc, ok bool) {
			seen[i]++
			wantLoc, wantOK := have[ids[i]]
			if ok != wantOK || loc != wantLoc {
				t.Errorf("%s: Lookup(%d) = %+v, %v; want %+v, %v", name, i, loc, ok, wantLoc, wantOK)
			}
		})
		if err != nil {
			t.Fatalf("%s: Lookup: %v", name, err)
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("%s: Lookup called fn %d times for index %d", name, n, i)
			}
		}
	}

	if st, err := x.Stats(); err != nil || st.FilterHits == 0 {
		t.Errorf("bloom filters unused: %+v, %v", st, err)
	}
	if _, err := x.Missing(0, present[:1], nil); !errors.Is(err, index.ErrInvalid) {
		t.Errorf("Missing in repository 0: got %v, want ErrInvalid", err)
	}
}

// TestMissingAllocs: a call allocates a constant amount, not per ID.
func TestMissingAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	x := newIndex(t)
	b := x.NewBatch()
	for i := range 5000 {
		b.PutChunk(1, seqID(1, uint64(i)), testLoc(i))
	}
	commit(t, b)
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	measure := func(n int) float64 {
		ids := make([]format.ID, n)
		for i := range ids {
			ids[i] = seqID(uint64(1+i%2), uint64(i))
		}
		missing := make([]format.ID, 0, n)
		return testing.AllocsPerRun(20, func() {
			if _, err := x.Missing(1, ids, missing[:0]); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := measure(10), measure(5000)
	t.Logf("allocations per call: %.0f for 10 IDs, %.0f for 5000 IDs", small, large)
	// Per-ID allocations would show up as thousands here. A few more
	// come and go with Pebble's pools (a GC empties a sync.Pool mid-run),
	// which CI once saw as 5 against 2: not growth with the batch.
	if large > small+16 {
		t.Errorf("allocations grow with the batch: %.0f for 10 IDs, %.0f for 5000", small, large)
	}
}

package index_test

import (
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// PinsInRange reports exactly the pins inside [lo, hi] of every session of
// the repository, and nothing of other repositories.
func TestPinsInRange(t *testing.T) {
	x := newIndex(t)
	ids := make([]format.ID, 40)
	for i := range ids {
		ids[i] = seqID(9, uint64(i))
	}
	slices.SortFunc(ids, format.ID.Compare)
	b := x.NewBatch()
	s1, s2 := indexkey.SessionID{1}, indexkey.SessionID{2}
	for i, id := range ids {
		switch i % 3 {
		case 0:
			b.Pin(5, s1, id)
		case 1:
			b.Pin(5, s2, id)
		default:
			b.Pin(6, s1, id) // another repository
		}
	}
	commit(t, b)
	for _, r := range [][2]int{{0, 39}, {10, 20}, {7, 7}, {8, 8}, {39, 39}} {
		var got []format.ID
		err := x.PinsInRange(5, ids[r[0]], ids[r[1]], func(id format.ID) error { got = append(got, id); return nil })
		if err != nil {
			t.Fatal(err)
		}
		var want []format.ID
		for i := r[0]; i <= r[1]; i++ {
			if i%3 != 2 {
				want = append(want, ids[i])
			}
		}
		slices.SortFunc(got, format.ID.Compare)
		if !slices.Equal(got, want) {
			t.Fatalf("range %v: got %d pins, want %d", r, len(got), len(want))
		}
	}
}

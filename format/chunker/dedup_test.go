package chunker

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"slices"
	"testing"

	"github.com/zeebo/blake3"
)

// edit is one small change to a file: insert or delete n bytes at pos.
type edit struct {
	pos    int
	n      int
	insert bool
}

// randomEdits returns count edits of 1 to 64 bytes at pseudo-random
// positions in a file of size bytes, derived from BLAKE3 so that the test
// does not depend on math/rand's generators.
func randomEdits(size, count int) []edit {
	src := xof("holdfast chunker dedup edits", 10*count)
	edits := make([]edit, count)
	for i := range edits {
		r := src[10*i:]
		edits[i] = edit{
			pos:    int(binary.BigEndian.Uint64(r) % uint64(size)),
			insert: r[8]&1 == 0,
			n:      1 + int(r[9]%64),
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return cmp.Compare(a.pos, b.pos) })
	return edits
}

// applyEdits returns data with edits applied. Inserted bytes are fresh
// pseudo-random data; a deletion that overlaps a later edit position is
// clipped by it.
func applyEdits(data []byte, edits []edit) []byte {
	fresh := xof("holdfast chunker dedup inserted bytes", 64*len(edits))
	out := make([]byte, 0, len(data)+64*len(edits))
	cur := 0 // next byte of data to copy
	for i, e := range edits {
		pos := max(e.pos, cur)
		out = append(out, data[cur:pos]...)
		cur = pos
		if e.insert {
			out = append(out, fresh[64*i:64*i+e.n]...)
		} else {
			cur = min(pos+e.n, len(data))
		}
	}
	return append(out, data[cur:]...)
}

// dedupRatio chunks orig and edited with p and returns the fraction of the
// edited file's chunks, and of its bytes, whose content is also a chunk of
// orig: what a backup of edited after orig would not upload again.
func dedupRatio(t *testing.T, orig, edited []byte, p Params) (chunks, bytesFrac float64, n int) {
	t.Helper()
	c, err := New(bytes.NewReader(orig), p, DefaultGear)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[[32]byte]bool)
	for {
		b, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[blake3.Sum256(b)] = true
	}
	c.Reset(bytes.NewReader(edited))
	var total, dup, dupBytes int
	for {
		b, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total++
		if seen[blake3.Sum256(b)] {
			dup++
			dupBytes += len(b)
		}
	}
	return float64(dup) / float64(total), float64(dupBytes) / float64(len(edited)), total
}

// TestDedupQuality measures how much of a file survives 1,000 small random
// insertions and deletions as unchanged chunks.
//
// The assertion uses 4 KiB / 8 KiB / 64 KiB parameters: 256 MiB is then
// about 27,000 chunks, and each edit should cost about one chunk (the one it
// falls in; the next cut re-synchronises), so at least 95% of chunks must
// dedupe. With the default 1 MiB average the same file is only about 220
// chunks, and 1,000 edits land in nearly every one of them, so that figure
// is logged, not asserted: it measures the edit density, not the chunker.
func TestDedupQuality(t *testing.T) {
	// Full size always: the whole test takes about 1.5 s and 600 MiB.
	size, count := 256<<20, 1000
	orig := xof("holdfast chunker dedup original", size)
	edited := applyEdits(orig, randomEdits(size, count))

	frac, bfrac, n := dedupRatio(t, orig, edited, smallParams)
	t.Logf("params %v: %d edits on %d MiB: %.2f%% of %d chunks, %.2f%% of bytes deduplicated",
		smallParams, count, size>>20, 100*frac, n, 100*bfrac)
	if frac < 0.95 || bfrac < 0.95 {
		t.Errorf("params %v: dedup %.4f of chunks, %.4f of bytes; want >= 0.95", smallParams, frac, bfrac)
	}

	frac, bfrac, n = dedupRatio(t, orig, edited, DefaultParams)
	t.Logf("params %v: %d edits on %d MiB: %.2f%% of %d chunks, %.2f%% of bytes deduplicated",
		DefaultParams, count, size>>20, 100*frac, n, 100*bfrac)
}

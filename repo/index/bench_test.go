package index_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// benchEntries is the size of the index BenchmarkMissing builds:
// HOLDFAST_INDEX_BENCH_N, default one million. The 10-million figure comes
// from internal/scalebench.
func benchEntries(b *testing.B) int {
	if s := os.Getenv("HOLDFAST_INDEX_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1_000_000
}

const benchBatch = 10_000

// fill inserts chunks seqID(1, 0..n-1) into repository 1 in batches of
// benchBatch.
func fill(b testing.TB, x *index.Index, from, n int) {
	for start := from; start < from+n; start += benchBatch {
		bt := x.NewBatch()
		for i := start; i < min(start+benchBatch, from+n); i++ {
			bt.PutChunk(1, seqID(1, uint64(i)), testLoc(i))
		}
		commit(b, bt)
	}
}

// BenchmarkMissing: one op is one Missing call of 10,000 random IDs, half
// present, against an index of benchEntries chunks.
func BenchmarkMissing(b *testing.B) {
	n := benchEntries(b)
	x := newIndex(b)
	fill(b, x, 0, n)
	settle(b, x)
	rng := rand.New(rand.NewPCG(3, 4))
	batches := make([][]format.ID, 64)
	for k := range batches {
		ids := make([]format.ID, benchBatch)
		for i := range ids {
			if i%2 == 0 {
				ids[i] = seqID(1, uint64(rng.IntN(n)))
			} else {
				ids[i] = seqID(2, rng.Uint64())
			}
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		batches[k] = ids
	}
	missing := make([]format.ID, 0, benchBatch)
	b.ReportAllocs()
	b.ResetTimer()
	for k := 0; b.Loop(); k++ {
		m, err := x.Missing(1, batches[k%len(batches)], missing[:0])
		if err != nil {
			b.Fatal(err)
		}
		if len(m) < benchBatch/2 {
			b.Fatalf("%d missing, want at least %d", len(m), benchBatch/2)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "IDs/s")
}

// BenchmarkInsert: one op is one synced batch of 10,000 chunk locations
// with random IDs, into an index that grows as the benchmark runs.
func BenchmarkInsert(b *testing.B) {
	x := newIndex(b)
	b.ReportAllocs()
	next := 0
	for b.Loop() {
		fill(b, x, next, benchBatch)
		next += benchBatch
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "inserts/s")
}

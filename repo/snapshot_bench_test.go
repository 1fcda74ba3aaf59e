package repo

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCommitSnapshot commits a snapshot of 2,000 references to a
// repository on six local directory stores (4+2): the reference check, the
// meta objects (header and reference list, m+1 copies each) and the synced
// index batch. What it measures is mostly the latency of the fsyncs on the
// file system under the test's temporary directory.
func BenchmarkCommitSnapshot(b *testing.B) {
	ctx := context.Background()
	stores, _ := localStores(b, 6)
	r := openRepo(b, testConfig(b, stores, 4, 2))
	defer r.Close(ctx)
	id, err := r.CreateRepository(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	chunks := makeChunks(b, "commit bench", 2000, 512)
	putAll(b, r, id, chunks)
	i := 0
	for b.Loop() {
		i++
		header, ids := headerFor(b, chunks, fmt.Sprintf("host-%d", i))
		if _, err := r.CommitSnapshot(ctx, id, header, RefsFromSlice(ids)); err != nil {
			b.Fatal(err)
		}
	}
}

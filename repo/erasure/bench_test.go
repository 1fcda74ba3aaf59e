package erasure_test

import (
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// benchPack is a 32 MiB pack of 1 MiB envelopes.
func benchPack(b *testing.B) *testPack {
	sizes := make([]int, 32)
	for i := range sizes {
		sizes[i] = 1 << 20
	}
	return buildPack(b, rand.New(rand.NewPCG(28, 29)), sizes)
}

// benchCoder returns a 4+2 Coder on 6 mem stores with p written to them.
func benchCoder(b *testing.B, p *testPack) (*erasure.Coder, []erasure.Store) {
	stores := memStores(6)
	c, err := erasure.New(stores, 4, 2, erasure.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
	if err != nil {
		b.Fatal(err)
	}
	p.placement = pl
	return c, stores
}

// BenchmarkWritePack: split, hash and put a 32 MiB pack as 4+2 shards.
// The mem store reads each payload twice and hashes it twice (it checks
// its callers), so this measures the Coder plus that.
func BenchmarkWritePack(b *testing.B) {
	p := benchPack(b)
	c, _ := benchCoder(b, p)
	ctx := context.Background()
	b.SetBytes(p.len())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.WritePack(ctx, testRepo, p.id, p.data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReadAll(b *testing.B, c *erasure.Coder, p *testPack) {
	ctx := context.Background()
	var n int64
	for _, e := range p.entries {
		n += int64(e.Length)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range p.entries {
			if _, err := c.ReadRange(ctx, testRepo, p.id, p.len(), p.placement,
				int64(e.Offset), int64(e.Length), func(r []byte) error { return pack.VerifyRecord(e, r) }); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadRangeHealthy reads every 1 MiB record of the pack.
func BenchmarkReadRangeHealthy(b *testing.B) {
	p := benchPack(b)
	c, _ := benchCoder(b, p)
	benchReadAll(b, c, p)
}

// BenchmarkReadRangeSmall reads every record of a pack of 8 KiB records
// (a source tree's files are a chunk each): the per-read costs of the fast
// path, not the copying, dominate.
func BenchmarkReadRangeSmall(b *testing.B) {
	sizes := make([]int, 512)
	for i := range sizes {
		sizes[i] = 8 << 10
	}
	p := buildPack(b, rand.New(rand.NewPCG(30, 31)), sizes)
	c, _ := benchCoder(b, p)
	benchReadAll(b, c, p)
}

// BenchmarkReadRangeTwoMissing reads every record with data shards 0 and 1
// deleted: half the records are rebuilt from ranges of four other shards.
func BenchmarkReadRangeTwoMissing(b *testing.B) {
	p := benchPack(b)
	c, stores := benchCoder(b, p)
	for _, i := range []int{0, 1} {
		s := stores[storeIndex(stores, p.placement[i])].Backend
		if err := s.Delete(context.Background(), backend.Name(shard.ObjectName(testRepo, p.id, i))); err != nil {
			b.Fatal(err)
		}
	}
	benchReadAll(b, c, p)
}

// BenchmarkBlake3Sum256 hashes the same 32 MiB pack once: the yardstick
// for the others.
func BenchmarkBlake3Sum256(b *testing.B) {
	p := benchPack(b)
	b.SetBytes(p.len())
	for b.Loop() {
		blake3.Sum256(p.data)
	}
}

// discard is a store that accepts every Put and keeps nothing, to measure
// the Coder's own cost of a write (split, parity, header hashes).
type discard struct{ backend.Backend }

func (discard) Put(_ context.Context, _ backend.Name, p backend.Payload) error {
	_, err := io.Copy(io.Discard, p.Open())
	return err
}

// BenchmarkWritePackDiscard is BenchmarkWritePack without the mem store's
// checks. In "in-place" the pack's buffer has room for its parity, as the
// engine's pack buffers do (shard.Split codes it there); in "alloc" Split
// allocates the parity for every pack.
func BenchmarkWritePackDiscard(b *testing.B) {
	p := benchPack(b)
	var stores []erasure.Store
	for i := range 6 {
		stores = append(stores, erasure.Store{ID: uint16(i), Backend: discard{}})
	}
	c, err := erasure.New(stores, 4, 2, erasure.Options{})
	if err != nil {
		b.Fatal(err)
	}
	roomy := make([]byte, p.len(), shard.SplitCap(p.len(), 4, 2))
	copy(roomy, p.data)
	for _, bc := range []struct {
		name string
		data []byte
	}{{"alloc", p.data[:len(p.data):len(p.data)]}, {"in-place", roomy}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(p.len())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.WritePack(ctx, testRepo, p.id, bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

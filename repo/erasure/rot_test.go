package erasure_test

import (
	"bytes"
	"context"
	"maps"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// readShardFiles returns the on-disk bytes of every shard of every pack.
func readShardFiles(t *testing.T, dirs []string, stores []erasure.Store, packs []*testPack) [][][]byte {
	t.Helper()
	out := make([][][]byte, len(packs))
	for pi, p := range packs {
		for i := range p.placement {
			b, err := os.ReadFile(shardFile(dirs, stores, p, i))
			if err != nil {
				t.Fatal(err)
			}
			out[pi] = append(out[pi], b)
		}
	}
	return out
}

// flip XORs the bytes [off, off+n) of a shard file with non-zero values.
func flip(t *testing.T, rng *rand.Rand, path string, off, n int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := off; i < off+n; i++ {
		b[i] ^= byte(1 + rng.IntN(255))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBitRot flips random bytes (data, parity and header bytes) in up to m
// shards of every pack: every record still reads bit-exact, a repairing
// scrub fixes every damaged shard, a second scrub finds all good, and the
// files are byte-for-byte the originals again.
func TestBitRot(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, dl := newCoder(t, stores, 4, 2)
	rng := rand.New(rand.NewPCG(5, 6))
	packs := variedPacks(t, rng, 20)
	writePacks(t, c, packs)
	orig := readShardFiles(t, dirs, stores, packs)
	ctx := context.Background()

	damaged := make([]int, len(packs))
	var parity, header int
	for pi, p := range packs {
		n := len(p.placement)
		which := rng.Perm(n)[:1+pi%c.M()] // 1 or 2 shards, never more than m
		if pi%5 == 0 {
			which = which[:0] // some packs stay healthy
		}
		for _, i := range which {
			size := int64(len(orig[pi][i]))
			for range 1 + rng.IntN(3) {
				off := rng.Int64N(size)
				if rng.IntN(4) == 0 {
					off = rng.Int64N(shard.HeaderSize)
					header++
				}
				flip(t, rng, shardFile(dirs, stores, p, i), off, 1)
			}
			if i >= c.K() {
				parity++
			}
		}
		damaged[pi] = len(which)
	}
	if parity == 0 || header == 0 {
		t.Fatalf("rot spared parity (%d) or headers (%d)", parity, header)
	}

	checkAllRecords(t, c, packs, "bit rot")
	for pi, p := range packs {
		got, err := c.ReadPack(ctx, testRepo, p.id, p.len(), p.placement)
		if err != nil || !bytes.Equal(got, p.data) {
			t.Fatalf("pack %d: ReadPack: %v", pi, err)
		}
	}
	dl.take()

	for pi, p := range packs {
		h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
		d := damaged[pi]
		want := erasure.PackHealth{Good: 6 - d, Corrupt: d, Repaired: d}
		if err != nil || h != want {
			t.Fatalf("pack %d: scrub: %+v, %v; want %+v", pi, h, err, want)
		}
		if got := len(dl.take()); got != d {
			t.Fatalf("pack %d: scrub reported %d damaged shards, want %d", pi, got, d)
		}
	}
	for pi, p := range packs {
		h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
		if err != nil || h != (erasure.PackHealth{Good: 6}) {
			t.Fatalf("pack %d: second scrub: %+v, %v", pi, h, err)
		}
	}
	now := readShardFiles(t, dirs, stores, packs)
	for pi := range packs {
		for i := range now[pi] {
			if !bytes.Equal(now[pi][i], orig[pi][i]) {
				t.Fatalf("pack %d shard %d: repaired file differs from the original", pi, i)
			}
		}
	}
	if d := dl.take(); len(d) != 0 {
		t.Fatalf("damage after repair: %v", d)
	}
}

// TestCorruptParityTrap corrupts a record's range in its data shard and the
// same shard-relative range in one parity shard. Rebuilding the range from
// k other shards then uses the corrupt parity and fails verification, so the
// read must fall back to whole, hash-checked shards, which find both bad
// shards and rebuild from the four good ones.
func TestCorruptParityTrap(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, dl := newCoder(t, stores, 4, 2)
	rng := rand.New(rand.NewPCG(7, 8))
	packs := variedPacks(t, rng, 8)
	writePacks(t, c, packs)
	orig := readShardFiles(t, dirs, stores, packs)

	restore := func(pi int, i int) {
		if err := os.WriteFile(shardFile(dirs, stores, packs[pi], i), orig[pi][i], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tested := 0
	for pi, p := range packs {
		for ei, e := range p.entries {
			for _, par := range []int{4, 5} {
				spans := spansOf(c, p, e)
				s := spans[rng.IntN(len(spans))]
				flip(t, rng, shardFile(dirs, stores, p, s.Index), s.ObjectOffset(), s.Length)
				flip(t, rng, shardFile(dirs, stores, p, par), s.ObjectOffset(), s.Length)

				got, err := readRecord(c, p, e)
				if err != nil || !bytes.Equal(got, p.record(e)) {
					t.Fatalf("pack %d record %d (data %d + parity %d bad): %v", pi, ei, s.Index, par, err)
				}
				bad := map[int]string{}
				for _, d := range dl.take() {
					bad[d.Shard] = d.Reason
				}
				// The degraded path rebuilds from the other data shards and
				// the first parity shard: a bad shard 5 goes unnoticed and
				// the read blames the data shard alone.
				want := map[int]string{s.Index: erasure.ReasonHashMismatch, par: erasure.ReasonHashMismatch}
				if par == 5 {
					want = map[int]string{s.Index: erasure.ReasonRecordChecksum}
				}
				if !maps.Equal(bad, want) {
					t.Fatalf("pack %d record %d: damage %v, want %v", pi, ei, bad, want)
				}
				restore(pi, s.Index)
				restore(pi, par)
				tested++
			}
		}
	}
	t.Logf("%d trap reads", tested)
}

// TestCorruptRange: a record's range corrupt in its data shard alone is
// rebuilt from the same range of other shards (the degraded path) and
// blamed on that shard as a record checksum mismatch.
func TestCorruptRange(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, dl := newCoder(t, stores, 4, 2)
	rng := rand.New(rand.NewPCG(9, 10))
	packs := variedPacks(t, rng, 8)
	writePacks(t, c, packs)
	orig := readShardFiles(t, dirs, stores, packs)

	for pi, p := range packs {
		for ei, e := range p.entries {
			spans := spansOf(c, p, e)
			s := spans[rng.IntN(len(spans))]
			path := shardFile(dirs, stores, p, s.Index)
			flip(t, rng, path, s.ObjectOffset()+rng.Int64N(s.Length), 1)

			got, err := readRecord(c, p, e)
			if err != nil || !bytes.Equal(got, p.record(e)) {
				t.Fatalf("pack %d record %d: %v", pi, ei, err)
			}
			ds := dl.take()
			if len(ds) != 1 || ds[0].Shard != s.Index || ds[0].Reason != erasure.ReasonRecordChecksum || ds[0].Store != p.placement[s.Index] {
				t.Fatalf("pack %d record %d: damage %+v, want shard %d %q", pi, ei, ds, s.Index, erasure.ReasonRecordChecksum)
			}
			if err := os.WriteFile(path, orig[pi][s.Index], 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestDamageReasons: each kind of damage is reported with its reason by
// scrub, and repaired.
func TestDamageReasons(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, dl := newCoder(t, stores, 4, 2)
	rng := rand.New(rand.NewPCG(30, 31))
	p := buildPack(t, rng, []int{9000, 12_000, 700})
	writePacks(t, c, []*testPack{p})
	orig := readShardFiles(t, dirs, stores, []*testPack{p})[0]
	ctx := context.Background()

	for _, round := range []map[int]string{
		{0: erasure.ReasonTruncated, 4: erasure.ReasonBadHeader},
		{1: erasure.ReasonHashMismatch, 5: erasure.ReasonMissing},
		{2: erasure.ReasonBadHeader, 3: erasure.ReasonTruncated}, // header of another shard
	} {
		for i, why := range round {
			path := shardFile(dirs, stores, p, i)
			var err error
			switch why {
			case erasure.ReasonTruncated:
				err = os.Truncate(path, int64(len(orig[i])-1))
			case erasure.ReasonBadHeader:
				if i == 2 {
					// A valid header, but of shard 1.
					b := append(bytes.Clone(orig[1][:shard.HeaderSize]), orig[i][shard.HeaderSize:]...)
					err = os.WriteFile(path, b, 0o600)
				} else {
					flip(t, rng, path, int64(rng.IntN(shard.HeaderSize)), 1)
				}
			case erasure.ReasonHashMismatch:
				flip(t, rng, path, shard.HeaderSize+int64(rng.IntN(len(orig[i])-shard.HeaderSize)), 1)
			case erasure.ReasonMissing:
				err = os.Remove(path)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		checkAllRecords(t, c, []*testPack{p}, "damaged")
		dl.take()
		h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
		if err != nil || h.Good != 4 || h.Repaired != 2 {
			t.Fatalf("scrub: %+v, %v", h, err)
		}
		got := map[int]string{}
		for _, d := range dl.take() {
			got[d.Shard] = d.Reason
		}
		if !maps.Equal(got, round) {
			t.Fatalf("damage %v, want %v", got, round)
		}
	}
	now := readShardFiles(t, dirs, stores, []*testPack{p})[0]
	for i := range now {
		if !bytes.Equal(now[i], orig[i]) {
			t.Fatalf("shard %d differs after repairs", i)
		}
	}
}

package fuzz

import (
	"bytes"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
)

func shardHeaderSeed() []byte {
	data := make([]byte, shard.ShardSize(1000, 4))
	h, err := shard.EncodeHeader(shard.NewHeader(format.ID{1}, 1000, 4, 2, 3, data))
	if err != nil {
		panic(err)
	}
	return h
}

// FuzzShardHeader: DecodeHeader never panics and re-encodes what it
// accepts. Each input is tried twice: as is, and with its checksum
// recomputed, so mutations also reach the field checks behind it.
func FuzzShardHeader(f *testing.F) {
	f.Add(shardHeaderSeed())
	f.Fuzz(func(t *testing.T, b []byte) {
		tries := [][]byte{b}
		if len(b) == shard.HeaderSize {
			fixed := bytes.Clone(b)
			sum := blake3.Sum256(fixed[:shard.HeaderSize-8])
			copy(fixed[shard.HeaderSize-8:], sum[:8])
			tries = append(tries, fixed)
		}
		for _, in := range tries {
			h, err := shard.DecodeHeader(in)
			if err != nil {
				if !format.IsCorrupt(err) {
					t.Fatalf("error is not corruption: %v", err)
				}
				continue
			}
			out, err := shard.EncodeHeader(h)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("re-encoded header differs: %v", err)
			}
		}
	})
}

// FuzzShardObjectName: ParseObjectName never panics, and a name it accepts
// is exactly the name ObjectName builds back.
func FuzzShardObjectName(f *testing.F) {
	f.Add(shard.ObjectName("prod-db", format.ID{0xab, 0xcd}, 7))
	f.Add("a/packs/00/00.00")
	f.Fuzz(func(t *testing.T, name string) {
		repo, id, idx, err := shard.ParseObjectName(name)
		if err != nil {
			if !format.IsCorrupt(err) {
				t.Fatalf("error is not corruption: %v", err)
			}
			return
		}
		if shard.ObjectName(repo, id, idx) != name {
			t.Fatalf("ObjectName(ParseObjectName(%q)) differs", name)
		}
	})
}

// FuzzShardJoin splits arbitrary packs with arbitrary layouts, drops a
// fuzz-chosen set of shards, and checks that Join returns the exact pack
// when at most m are gone and ErrTooFewShards otherwise, and that Locate
// reads back a fuzz-chosen range from the data shards.
func FuzzShardJoin(f *testing.F) {
	f.Add([]byte("a pack of some bytes"), uint8(4), uint8(2), uint32(0b000101), uint32(3), uint32(9))
	f.Fuzz(func(t *testing.T, p []byte, k, m uint8, missing, off, length uint32) {
		if len(p) == 0 {
			return
		}
		kk, mm := int(k%8)+1, int(m%5)
		shards, err := shard.Split(p, kk, mm)
		if err != nil {
			t.Fatal(err)
		}
		size := shard.ShardSize(int64(len(p)), kk)
		o := int64(off) % int64(len(p))
		n := int64(length)%(int64(len(p))-o) + 1
		var got []byte
		for _, s := range shard.Locate(o, n, size) {
			got = append(got, shards[s.Index][s.Offset:s.Offset+s.Length]...)
		}
		if !bytes.Equal(got, p[o:o+n]) {
			t.Fatalf("Locate(%d, %d) read differs", o, n)
		}
		gone := 0
		for i := range shards {
			if missing&(1<<i) != 0 {
				shards[i] = nil
				gone++
			}
		}
		joined, err := shard.Join(shards, kk, mm, int64(len(p)))
		switch {
		case gone <= mm && (err != nil || !bytes.Equal(joined, p)):
			t.Fatalf("%d+%d, %d missing: %v", kk, mm, gone, err)
		case gone > mm && err == nil:
			t.Fatalf("%d+%d, %d missing: joined", kk, mm, gone)
		}
	})
}

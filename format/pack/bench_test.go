package pack

import (
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

const benchPackSize = 32 << 20

// benchEnvelopes returns 32 MiB as 32 envelopes of 1 MiB.
func benchEnvelopes() ([]format.ID, [][]byte) {
	data := xof("bench pack", benchPackSize)
	var ids []format.ID
	var envs [][]byte
	for off := 0; off < len(data); off += 1 << 20 {
		envs = append(envs, data[off:off+1<<20])
		ids = append(ids, xofID("bench id "+string(rune(off>>20))))
	}
	return ids, envs
}

func BenchmarkBuilder(b *testing.B) {
	ids, envs := benchEnvelopes()
	pb := NewBuilder()
	pb.Grow(benchPackSize)
	b.SetBytes(benchPackSize)
	b.ReportAllocs()
	for b.Loop() {
		pb.Reset()
		for i, env := range envs {
			if err := pb.Add(ids[i], env); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, _, err := pb.Finish(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	ids, envs := benchEnvelopes()
	pb := NewBuilder()
	for i, env := range envs {
		pb.Add(ids[i], env)
	}
	data, _, _, _ := pb.Finish()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlake3Sum256 is the floor for the others: building a pack hashes
// every byte twice (record checksum, pack ID), parsing once.
func BenchmarkBlake3Sum256(b *testing.B) {
	data := xof("bench pack", benchPackSize)
	b.SetBytes(benchPackSize)
	for b.Loop() {
		blake3.Sum256(data)
	}
}

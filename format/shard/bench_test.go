package shard

import (
	"testing"

	"github.com/zeebo/blake3"
)

const benchPackSize = 32 << 20

func BenchmarkSplit(b *testing.B) {
	data := xof("bench pack", benchPackSize)
	b.SetBytes(benchPackSize)
	for b.Loop() {
		if _, err := Split(data, 4, 2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoinMissing2 rebuilds a pack with two data shards missing, the
// worst case k=4, m=2 survives.
func BenchmarkJoinMissing2(b *testing.B) {
	data := xof("bench pack", benchPackSize)
	shards, err := Split(data, 4, 2)
	if err != nil {
		b.Fatal(err)
	}
	given := append([][]byte(nil), shards...)
	given[0], given[2] = nil, nil
	b.SetBytes(benchPackSize)
	for b.Loop() {
		if _, err := Join(given, 4, 2, benchPackSize); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoinAll is the fast path: all data shards present, a copy.
func BenchmarkJoinAll(b *testing.B) {
	data := xof("bench pack", benchPackSize)
	shards, _ := Split(data, 4, 2)
	b.SetBytes(benchPackSize)
	for b.Loop() {
		if _, err := Join(shards, 4, 2, benchPackSize); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlake3Sum256 hashes the same 32 MiB, the cost of verifying the
// shards' hashes, for the ratio.
func BenchmarkBlake3Sum256(b *testing.B) {
	data := xof("bench pack", benchPackSize)
	b.SetBytes(benchPackSize)
	for b.Loop() {
		blake3.Sum256(data)
	}
}

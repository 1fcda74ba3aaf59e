package shard

import (
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"

	"github.com/holdfast-backup/holdfast/format"
)

// encoders caches one reedsolomon encoder per (k, m): building one inverts
// matrices, and encoders are safe for concurrent use.
var encoders sync.Map // int(k<<8|m) -> reedsolomon.Encoder

func encoder(k, m int) (reedsolomon.Encoder, error) {
	if k < 1 || m < 0 || k+m > MaxShards {
		return nil, fmt.Errorf("%w: %d+%d (1 <= k, 0 <= m, k+m <= %d)", errLayout, k, m, MaxShards)
	}
	key := k<<8 | m
	if e, ok := encoders.Load(key); ok {
		return e.(reedsolomon.Encoder), nil
	}
	// Default options: the systematic Vandermonde matrix of SPEC.md §9,
	// which fixes the parity bytes.
	e, err := reedsolomon.New(k, m)
	if err != nil {
		return nil, fmt.Errorf("shard: new encoder %d+%d: %w", k, m, err)
	}
	actual, _ := encoders.LoadOrStore(key, e)
	return actual.(reedsolomon.Encoder), nil
}

// Split codes pack into k data and m parity shard data slices, each
// ShardSize(len(pack), k) bytes. Data shards that lie wholly inside pack
// alias it (no copy): pack must not change while the shards are in use.
//
// When cap(pack) is at least SplitCap(len(pack), k, m), Split allocates
// nothing: every shard is a window of pack's backing array, the padding
// after len(pack) is zeroed in place and the parity is coded into the
// capacity beyond it. A caller that reuses one buffer for many packs (the
// engine's pack builders) thereby stops allocating and faulting in the
// parity of every pack afresh. Split never writes below len(pack).
func Split(pack []byte, k, m int) ([][]byte, error) {
	enc, err := encoder(k, m)
	if err != nil {
		return nil, err
	}
	if len(pack) < 1 || len(pack) > format.MaxPackSize {
		return nil, fmt.Errorf("shard: split: pack of %d bytes", len(pack))
	}
	size := int(ShardSize(int64(len(pack)), k))
	shards := make([][]byte, k+m)
	if cap(pack) >= (k+m)*size {
		whole := pack[:(k+m)*size]
		clear(whole[len(pack) : k*size])
		for i := range shards {
			shards[i] = whole[i*size : (i+1)*size : (i+1)*size]
		}
	} else {
		splitAlloc(pack, shards, size, k)
	}
	if m > 0 {
		if err := enc.Encode(shards); err != nil {
			return nil, fmt.Errorf("shard: encode %d+%d: %w", k, m, err)
		}
	}
	return shards, nil
}

// SplitCap is the capacity a pack of packLen bytes needs for Split to code
// it in place: k+m shards of ShardSize bytes.
func SplitCap(packLen int64, k, m int) int64 {
	return int64(k+m) * ShardSize(packLen, k)
}

// splitAlloc fills shards for a pack without room for its parity: data
// shards wholly inside pack alias it, the padded data shards and the
// parity share one new zeroed allocation.
func splitAlloc(pack []byte, shards [][]byte, size, k int) {
	full := min(len(pack)/size, k) // data shards with no padding
	for i := range full {
		shards[i] = pack[i*size : (i+1)*size : (i+1)*size]
	}
	rest := make([]byte, (len(shards)-full)*size)
	for i := full; i < len(shards); i++ {
		j := i - full
		shards[i] = rest[j*size : (j+1)*size : (j+1)*size]
		if i < k && i*size < len(pack) {
			copy(shards[i], pack[i*size:])
		}
	}
}

// checkShards validates the arguments of Join and Reconstruct and counts
// the present shards.
func checkShards(shards [][]byte, k, m int, size int64) (int, error) {
	if len(shards) != k+m {
		return 0, fmt.Errorf("%w: %d shards given for %d+%d", errLayout, len(shards), k, m)
	}
	present := 0
	for i, s := range shards {
		if s == nil {
			continue
		}
		if int64(len(s)) != size {
			return 0, fmt.Errorf("shard: shard %d has %d bytes, want %d", i, len(s), size)
		}
		present++
	}
	if present < k {
		return present, fmt.Errorf("%w: %d of %d+%d present", ErrTooFewShards, present, k, m)
	}
	return present, nil
}

// Join rebuilds the pack of packLen bytes from shards (len k+m, nil where
// a shard is missing; at least k present). Present shards must already be
// verified (Verify): Reed-Solomon fills gaps, it does not find bad shards.
// Join checks that the padding past the pack's end is zero, which catches
// parity that does not match the data. It returns a new slice.
func Join(shards [][]byte, k, m int, packLen int64) ([]byte, error) {
	enc, err := encoder(k, m)
	if err != nil {
		return nil, err
	}
	if packLen < 1 || packLen > format.MaxPackSize {
		return nil, fmt.Errorf("shard: join: pack length %d", packLen)
	}
	size := ShardSize(packLen, k)
	if _, err := checkShards(shards, k, m, size); err != nil {
		return nil, err
	}
	work := shards
	for _, s := range shards[:k] {
		if s == nil {
			// Work on a copy of the slice header list so the caller's
			// slice keeps its nils.
			work = append([][]byte(nil), shards...)
			if err := enc.ReconstructData(work); err != nil {
				return nil, fmt.Errorf("shard: reconstruct %d+%d: %w", k, m, err)
			}
			break
		}
	}
	pack := make([]byte, packLen)
	for i := 0; i < k; i++ {
		start := int64(i) * size
		if start < packLen {
			copy(pack[start:], work[i])
		}
		if err := checkPadding(work[i], start, packLen); err != nil {
			return nil, err
		}
	}
	return pack, nil
}

// checkPadding fails unless the bytes of data shard data (which starts at
// pack offset start) that lie past packLen are all zero.
func checkPadding(data []byte, start, packLen int64) error {
	from := max(0, packLen-start)
	for _, c := range data[min(from, int64(len(data))):] {
		if c != 0 {
			return format.Corruptf("shard: padding past the pack's end is not zero")
		}
	}
	return nil
}

// Reconstruct fills in every missing (nil) shard of shards, data and parity
// alike, from at least k present ones; scrub uses it to repair a pack's
// shards in place. Present shards must already be verified.
func Reconstruct(shards [][]byte, k, m int, packLen int64) error {
	enc, err := encoder(k, m)
	if err != nil {
		return err
	}
	if packLen < 1 || packLen > format.MaxPackSize {
		return fmt.Errorf("shard: reconstruct: pack length %d", packLen)
	}
	present, err := checkShards(shards, k, m, ShardSize(packLen, k))
	if err != nil || present == k+m {
		return err
	}
	if err := enc.Reconstruct(shards); err != nil {
		return fmt.Errorf("shard: reconstruct %d+%d: %w", k, m, err)
	}
	return nil
}

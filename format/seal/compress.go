package seal

import (
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/holdfast-backup/holdfast/format"
)

// Compression policy (SPEC.md, "Compression decision"). It is a writer's
// choice, not part of the format: readers accept either encoding of any
// chunk. It is written down exactly because the golden vectors depend on it.
const (
	// sampleSize is how much of a large chunk the cheap check compresses:
	// four 16 KiB pieces spread evenly over the chunk, so a compressible
	// file header does not vouch for an incompressible body.
	sampleSize   = 64 << 10
	samplePieces = 4
	pieceSize    = sampleSize / samplePieces

	// A sample must shrink by at least this many percent for the whole
	// chunk to be compressed.
	sampleMinSavingPct = 3
	// The compressed chunk is kept only if it saves at least this many
	// percent; otherwise the plaintext is stored, which opens faster.
	keepMinSavingPct = 1
	// A sample that saves less than this many percent marks data whose
	// literals are mostly incompressible (random runs between the
	// matches): the chunk is compressed without entropy coding of the
	// literals, which there costs about a quarter of zstd's time and saves
	// next to nothing.
	sampleEntropyMinSavingPct = 50
)

// Encoders and decoders hold no key material, so all Sealers share them.
// Each has concurrency 1: EncodeAll and DecodeAll run on the caller's
// goroutine, and pooling gives one per concurrent caller.
var (
	encoders    = sync.Pool{New: func() any { return newEncoder() }}
	rawEncoders = sync.Pool{New: func() any { return newEncoder(zstd.WithNoEntropyCompression(true)) }}
	decoders    = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(format.MaxChunkSize), // caps output and window
			zstd.WithDecodeAllCapLimit(true))               // never grow the caller's buffer
		if err != nil {
			panic("seal: zstd decoder: " + err.Error()) // unreachable: fixed options
		}
		return d
	}}
	// samples and payloads hold scratch space: the compression check's
	// sample and its output when sealing (about 128 KiB each), decrypted
	// zstd payloads when opening (up to a chunk). Two pools, so a small
	// buffer is never taken where a chunk-sized one is needed.
	samples, payloads sync.Pool // *[]byte
)

// newEncoder returns a zstd encoder with the policy's fixed options and
// extra ones.
func newEncoder(extra ...zstd.EOption) *zstd.Encoder {
	opts := append([]zstd.EOption{
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false),   // the AEAD tag already covers the payload
		zstd.WithSingleSegment(true), // always declare the content size
		// The default sizes the history of a chunk over one block at twice
		// the 8 MiB window; window plus one block is all the matching
		// needs. An encoder and its first 2 MiB chunk allocate 7.6 MiB
		// instead of 11.6, for each sealer and encoder kind. No output
		// byte changes (TestLowerEncoderMemKeepsOutput).
		zstd.WithLowerEncoderMem(true),
	}, extra...)
	e, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		panic("seal: zstd encoder: " + err.Error()) // unreachable: fixed options
	}
	return e
}

// getBuffer returns a buffer from pool with capacity at least n.
func getBuffer(pool *sync.Pool, n int) *[]byte {
	if p, ok := pool.Get().(*[]byte); ok && cap(*p) >= n {
		return p
	}
	b := make([]byte, 0, n)
	return &b
}

// saves reports whether compressing n bytes to c bytes saves at least pct
// percent. Integer arithmetic keeps the rule exact across implementations.
func saves(c, n, pct int) bool { return 100*c <= (100-pct)*n }

// trial is the outcome of the cheap check.
type trial int

const (
	skip        trial = iota // store uncompressed without trying
	compress                 // compress with the standard encoder
	compressRaw              // compress without literal entropy coding
)

// worthTrying is the cheap check of the zstd writer: for a chunk larger
// than sampleSize it compresses the sample, skips the chunk when that
// saved less than sampleMinSavingPct and picks the encoder without literal
// entropy coding when it saved less than sampleEntropyMinSavingPct.
// Smaller chunks are always tried whole with the standard encoder (the
// trial is the check).
func worthTrying(enc *zstd.Encoder, p []byte) trial {
	if len(p) <= sampleSize {
		return trySmall(p)
	}
	bp := getBuffer(&samples, sampleSize+enc.MaxEncodedSize(sampleSize))
	defer samples.Put(bp)
	sample := appendSample((*bp)[:0], p)
	out := enc.EncodeAll(sample, sample[len(sample):]) // the spare capacity
	switch {
	case !saves(len(out), len(sample), sampleMinSavingPct):
		return skip
	case !saves(len(out), len(sample), sampleEntropyMinSavingPct):
		return compressRaw
	}
	return compress
}

// worthTryingS2 is the same check for the S2 writer, which has no entropy
// coding to turn off.
func worthTryingS2(p []byte) trial {
	if len(p) <= sampleSize {
		return trySmall(p)
	}
	bp := getBuffer(&samples, sampleSize+s2.MaxEncodedLen(sampleSize))
	defer samples.Put(bp)
	sample := appendSample((*bp)[:0], p)
	out := s2.Encode(sample[len(sample):cap(sample)], sample)
	if !saves(len(out), len(sample), sampleMinSavingPct) {
		return skip
	}
	return compress
}

// trySmall decides for a chunk of at most sampleSize bytes: an empty one
// is stored, any other is tried whole.
func trySmall(p []byte) trial {
	if len(p) == 0 {
		return skip
	}
	return compress
}

// appendSample appends the sample of p (longer than sampleSize): four
// pieces at evenly spread offsets.
func appendSample(sample, p []byte) []byte {
	n := len(p)
	for i := range samplePieces {
		off := i * (n - pieceSize) / (samplePieces - 1)
		sample = append(sample, p[off:off+pieceSize]...)
	}
	return sample
}

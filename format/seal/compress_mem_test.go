package seal

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestLowerEncoderMemKeepsOutput: the encoders are built with
// WithLowerEncoderMem, which only shrinks their history buffers. The
// compressed bytes must be those of the default encoder, for chunks of one
// block, of many blocks, and longer than the 8 MiB window (where the
// history is moved down), with and without literal entropy coding.
func TestLowerEncoderMemKeepsOutput(t *testing.T) {
	for _, n := range []int{1 << 10, 100 << 10, 300 << 10, 3 << 20, 9<<20 + 12345} {
		for _, raw := range []bool{false, true} {
			var extra []zstd.EOption
			if raw {
				extra = append(extra, zstd.WithNoEntropyCompression(true))
			}
			ours := newEncoder(extra...)
			plain, err := zstd.NewWriter(nil, append([]zstd.EOption{
				zstd.WithEncoderLevel(zstd.SpeedFastest),
				zstd.WithEncoderConcurrency(1),
				zstd.WithEncoderCRC(false),
				zstd.WithSingleSegment(true),
			}, extra...)...)
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range [][]byte{halfCompressible(n), sourceText(n)} {
				if got, want := ours.EncodeAll(src, nil), plain.EncodeAll(src, nil); !bytes.Equal(got, want) {
					t.Fatalf("%d bytes (raw literals %v): %d compressed bytes differ from the default encoder's %d", n, raw, len(got), len(want))
				}
			}
		}
	}
}

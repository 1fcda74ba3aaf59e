//go:build linux

package local

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/internal/cputime"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// BenchmarkGetChunks reads shards the way a restore does, one chunk-sized
// range (1 MiB and a bit, unaligned) per Get, from shards whose pages are
// not cached (Put dropped them), with direct I/O and through the page cache
// (buffered, dropping what was read, as when the file system refuses direct
// I/O). cpu-ms/op is the process's user plus system time per 8 MiB shard.
func BenchmarkGetChunks(b *testing.B) {
	const shards, shardSize, chunk = 16, 8 << 20, 1<<20 + 4321
	payload := make([]byte, shardSize)
	for i := range payload {
		payload[i] = byte(i*131 + i>>9)
	}
	be, err := New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range shards {
		if err := be.Put(ctx, backend.Name(fmt.Sprintf("r/packs/%02x.00", i)), backend.Bytes(payload)); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, chunk)
	for _, mode := range []string{"direct", "buffered"} {
		b.Run(mode, func(b *testing.B) {
			be.noDirect.Store(mode == "buffered")
			b.SetBytes(shardSize)
			cpu := cputime.Process()
			for i := 0; b.Loop(); i++ {
				name := backend.Name(fmt.Sprintf("r/packs/%02x.00", i%shards))
				for off := int64(0); off < shardSize; off += chunk {
					rc, err := be.Get(ctx, name, off, min(chunk, shardSize-off))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(rc, buf[:min(chunk, shardSize-off)]); err != nil {
						b.Fatal(err)
					}
					rc.Close()
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

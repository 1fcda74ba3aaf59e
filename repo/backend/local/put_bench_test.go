//go:build linux

package local

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/internal/cputime"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// BenchmarkPutShard writes shard-sized objects (a 32 MiB pack split 4+2)
// the way WritePack does: with direct I/O (the default), through the page
// cache dropping the pages after the fsync (where the file system refuses
// direct I/O), and keeping them. cpu-ms/op is the process's user plus
// system time: the kernel's page cache work shows there, while wall time
// is mostly the disk.
func BenchmarkPutShard(b *testing.B) {
	payload := make([]byte, 8<<20)
	for i := range payload {
		payload[i] = byte(i*131 + i>>9)
	}
	for _, mode := range []string{"direct", "buffered", "keepCache"} {
		b.Run(mode, func(b *testing.B) {
			be, err := New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			be.noDirect.Store(mode == "buffered")
			be.keepCache = mode == "keepCache"
			b.SetBytes(int64(len(payload)))
			cpu := cputime.Process()
			for i := 0; b.Loop(); i++ {
				name := backend.Name(fmt.Sprintf("r/packs/%02x/%08x.00", i%256, i))
				if err := be.Put(context.Background(), name, backend.Bytes(payload)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

package erasure_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// blackhole is a TCP proxy on loopback in front of an S3 endpoint. Once
// drop is set it forwards nothing more in either direction, on open and
// new connections alike, and answers nothing: what a partition that
// drops packets looks like to a client whose connections stay up.
type blackhole struct {
	ln     net.Listener
	target string
	drop   atomic.Bool
	wg     sync.WaitGroup
}

func startBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	b.wg.Go(b.accept)
	t.Cleanup(func() { ln.Close(); b.wg.Wait() })
	return b
}

func (b *blackhole) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.serve(c) })
	}
}

func (b *blackhole) serve(c net.Conn) {
	defer c.Close()
	if b.drop.Load() {
		io.Copy(io.Discard, c)
		return
	}
	up, err := net.Dial("tcp", b.target)
	if err != nil {
		return
	}
	defer up.Close()
	go b.pipe(c, up)
	b.pipe(up, c)
}

// pipe copies src to dst until either ends, discarding once drop is set.
func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !b.drop.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// TestS3StoreStallsReadsHedge: one of six S3 stores sits behind a proxy
// that starts dropping everything after the packs are written. Reads
// return the right bytes within seconds: the first read that needs the
// store waits HedgeAfter and rebuilds its piece from the others, and the
// reads after it go around the store. Without the hedge each would wait
// for the S3 client's timeouts.
func TestS3StoreStallsReadsHedge(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	ctx := context.Background()
	bucket := srv.NewBucket(t, false)
	var stores []erasure.Store
	var hole *blackhole
	for i := range 6 {
		cfg := srv.Config(bucket, fmt.Sprintf("store%d", i))
		if i == 2 {
			u, err := url.Parse(cfg.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			hole = startBlackhole(t, u.Host)
			u.Host = hole.ln.Addr().String()
			cfg.Endpoint = u.String()
		}
		b, err := s3.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, erasure.Store{ID: uint16(i + 1), Backend: b})
	}
	const hedgeAfter = 500 * time.Millisecond
	c, err := erasure.New(stores, 4, 2, erasure.Options{HedgeAfter: hedgeAfter})
	if err != nil {
		t.Fatal(err)
	}
	packs := variedPacks(t, rand.New(rand.NewPCG(71, 72)), 4)
	writePacks(t, c, packs)
	checkAllRecords(t, c, packs, "s3 before the partition")

	hole.drop.Store(true)
	start := time.Now()
	checkAllRecords(t, c, packs, "s3 with a store behind a dropping partition")
	took := time.Since(start)
	t.Logf("reads with the store silent: %s", took)
	if took > 10*hedgeAfter {
		t.Fatalf("reads with a silent store took %s (hedge after %s)", took, hedgeAfter)
	}
}

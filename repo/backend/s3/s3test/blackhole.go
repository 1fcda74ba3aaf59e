package s3test

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Blackhole is a TCP proxy on loopback in front of the server. Once Drop
// is set it forwards nothing more in either direction, on open and new
// connections alike, and answers nothing: what a partition that drops
// packets looks like to a client whose connections stay up. Clearing Drop
// lets new connections through again.
type Blackhole struct {
	Drop     atomic.Bool
	Endpoint string // the proxy's URL, to use in place of Server.Endpoint

	ln     net.Listener
	target string
	wg     sync.WaitGroup
}

// Blackhole starts a proxy to s; it stops when the test ends.
func (s *Server) Blackhole(t testing.TB) *Blackhole {
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Blackhole{ln: ln, target: u.Host}
	u.Host = ln.Addr().String()
	b.Endpoint = u.String()
	b.wg.Go(b.accept)
	t.Cleanup(func() { ln.Close(); b.wg.Wait() })
	return b
}

func (b *Blackhole) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.serve(c) })
	}
}

func (b *Blackhole) serve(c net.Conn) {
	defer c.Close()
	if b.Drop.Load() {
		discard(c)
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

// pipe copies src to dst until either ends, discarding once Drop is set.
func (b *Blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !b.Drop.Load() {
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

func discard(c net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

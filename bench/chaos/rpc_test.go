package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// endpoint is one RPC of the generated service descriptors.
type endpoint struct {
	procedure string // "/holdfast.v1.Service/Method"
	method    protoreflect.MethodDescriptor
}

func (e endpoint) streaming() bool {
	return e.method.IsStreamingClient() || e.method.IsStreamingServer()
}

// endpoints lists every RPC of package holdfast.v1 from the registered
// descriptors, so an RPC added later is covered without touching the suite.
func endpoints(t *testing.T) []endpoint {
	var eps []endpoint
	protoregistry.GlobalFiles.RangeFilesByPackage("holdfast.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				eps = append(eps, endpoint{procedure: "/" + string(sd.FullName()) + "/" + string(md.Name()), method: md})
			}
		}
		return true
	})
	if len(eps) < 20 {
		t.Fatalf("found only %d RPCs in the descriptors of holdfast.v1", len(eps))
	}
	return eps
}

// garbageBodies are bad requests for an endpoint: content type and body.
// Streaming RPCs get Connect envelopes (5-byte header: flags, big-endian
// length) that lie about their length, claim compression, or hold junk.
func garbageBodies(rng *rand.Rand, streaming bool) []struct{ ctype, body string } {
	junk := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	frame := func(flags byte, length uint32, body string) string {
		h := []byte{flags, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[1:], length)
		return string(h) + body
	}
	bodies := []struct{ ctype, body string }{
		{"application/proto", junk(1 + rng.IntN(300))},
		{"application/proto", "\x0a\xff\xff\xff\xff\x0f"}, // a field claiming 4 GiB
		{"application/json", "{\"repo\": " + junk(20)},
		{"application/json", "{\"repo\":\"chaos\",\"ids\":[\"" + strings.Repeat("A", 1000) + "\"]}"},
		{"application/connect+proto", frame(0, 1000, junk(10))},       // truncated frame
		{"application/connect+proto", frame(0, 0xffffffff, junk(64))}, // 4 GiB frame
		{"application/connect+proto", frame(1, 16, junk(16))},         // compressed, no encoding
		{"application/connect+proto", frame(0, 32, junk(32)) + junk(3)},
		{"application/grpc-web+proto", frame(0, 500, junk(20))},
		{"application/grpc", frame(0, 200, junk(20))},
		{"text/plain", junk(50)},
	}
	if streaming {
		bodies = append(bodies, struct{ ctype, body string }{"application/connect+json", frame(0, 40, "{\"repo\":\"chaos\"}"+junk(24))})
	}
	return bodies
}

// cutReader yields its bytes and then fails, so the client aborts the
// request mid-body: a frame truncated by a dropped connection.
type cutReader struct{ r io.Reader }

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection cut")
	}
	return n, err
}

// sendGarbage posts every garbage body to every endpoint, with no token and
// with a valid one, whole and cut mid-body. It fails on a 5xx answer (a
// handler that did not expect bad input) and returns the requests sent.
func sendGarbage(s *tally, rng *rand.Rand, hc *http.Client, url string, eps []endpoint, tokens ...string) int {
	sent := 0
	for _, ep := range eps {
		for _, g := range garbageBodies(rng, ep.streaming()) {
			for _, tok := range tokens {
				for _, cut := range []bool{false, true} {
					var body io.Reader = strings.NewReader(g.body)
					if cut {
						body = &cutReader{body}
					}
					req, _ := http.NewRequest(http.MethodPost, url+ep.procedure, body)
					req.Header.Set("Content-Type", g.ctype)
					if tok != "" {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					resp, err := hc.Do(req.WithContext(ctx))
					sent++
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode >= 500 {
							s.fail("%s %s (cut %v, token %v): HTTP %d", ep.procedure, g.ctype, cut, tok != "", resp.StatusCode)
						}
					} else if !cut {
						s.fail("%s %s: %v", ep.procedure, g.ctype, err)
					}
					cancel()
				}
			}
		}
	}
	return sent
}

// serving checks that the server answers Health and GetInfo.
func serving(url string) error {
	info := holdfastv1connect.NewInfoServiceClient(http.DefaultClient, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := info.Health(ctx, connect.NewRequest(&holdfastv1.HealthRequest{}))
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	if h.Msg.Status != holdfastv1.HealthResponse_STATUS_SERVING {
		return fmt.Errorf("health: %v", h.Msg.Status)
	}
	if _, err := info.GetInfo(ctx, connect.NewRequest(&holdfastv1.GetInfoRequest{})); err != nil {
		return fmt.Errorf("get info: %w", err)
	}
	return nil
}

// TestChaosRPCGarbage sends random garbage and truncated frames to every
// RPC of the generated service descriptors, over Connect, gRPC-Web and
// gRPC (HTTP/1.1 and h2c): to the real server, which must keep serving,
// and to the same server code in this process, whose goroutine count must
// come back to where it was once the connections close.
func TestChaosRPCGarbage(t *testing.T) {
	skipShort(t)
	s := newTally(t, "rpc-garbage")
	rng := newRand(t)
	eps := endpoints(t)
	f := newFixture(t, nil, 2, 64<<10)
	in := newInprocFixture(t, func(_ int, b backend.Backend) backend.Backend { return b }, 2, 64<<10)
	sent := 0
	leaked := 0
	for range roundsOf(1, 5) {
		s.rounds++
		for _, fx := range []*fixture{f, in} {
			h1 := &http.Client{Transport: &http.Transport{}}
			h2 := h2cClient()
			before := runtime.NumGoroutine()
			for _, hc := range []*http.Client{h1, h2} {
				sent += sendGarbage(s, rng, hc, fx.d.url, eps, "", fx.admin.token, fx.server.token)
			}
			if err := serving(fx.d.url); err != nil {
				s.fail("after garbage: %v", err)
			}
			h1.CloseIdleConnections()
			h2.CloseIdleConnections()
			if fx == in {
				leaked = max(leaked, settleGoroutines(before))
			}
		}
		if f.d.cmd == nil || f.d.cmd.ProcessState != nil {
			s.fail("the real server died")
		}
	}
	if leaked > 10 {
		s.fail("%d goroutines more than before the garbage, after 5 s", leaked)
	}
	// The repository is intact and still takes backups.
	if _, r := f.takeBackup(f.backup); r.code != 0 {
		s.fail("backup after garbage: %v", r)
	}
	n := f.checkAll(s, nil)
	s.report(itoa(len(eps))+" RPCs", itoa(sent)+" bad requests", "serving", fmt.Sprintf("%d goroutines left", leaked), mib(n)+" restored")
}

// settleGoroutines waits up to 5 s for the goroutine count to fall back to
// before and returns how many more are left.
func settleGoroutines(before int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		extra := runtime.NumGoroutine() - before
		if extra <= 0 || time.Now().After(deadline) {
			return max(extra, 0)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

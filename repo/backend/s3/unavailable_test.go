package s3_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
)

// TestUnavailable: a store that cannot be reached, whose bucket is gone,
// or whose service keeps failing or never answers is
// backend.ErrUnavailable, for every operation, with no secret in the
// message. An object that is missing from
// a working store stays ErrNotExist only.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>`)
	}))
	defer failing.Close()
	// A silent endpoint takes connections and requests and never answers,
	// as one behind a partition that drops packets looks to a client whose
	// connection is up.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()

	for _, tc := range []struct {
		name     string
		endpoint string
		bucket   string
	}{
		{"connection refused", closed, bucket},
		{"service failing", failing.URL, bucket},
		{"bucket gone", srv.Endpoint, "no-such-bucket-" + strings.ToLower(t.Name())},
		{"endpoint silent", "http://" + silent.Addr().String(), bucket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.Config(tc.bucket, "p")
			cfg.Endpoint = tc.endpoint
			cfg.MaxRetries = 1
			cfg.MaxBackoff = 10 * time.Millisecond
			cfg.ResponseTimeout = 200 * time.Millisecond
			b, err := s3.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Available(); !errors.Is(err, backend.ErrUnavailable) {
				t.Errorf("Available: %v, want ErrUnavailable", err)
			}
			if tc.name == "endpoint silent" {
				// The caller's own deadline, shorter than the response
				// timeout, is the caller's: not the store's failure.
				short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				_, err := b.Get(short, "r/packs/ab/x.00", 0, -1)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, backend.ErrUnavailable) {
					t.Errorf("Get past the caller's deadline: %v, want DeadlineExceeded only", err)
				}
			}
			_, gerr := b.Get(ctx, "r/packs/ab/x.00", 0, -1)
			_, serr := b.Stat(ctx, "r/packs/ab/x.00")
			for op, err := range map[string]error{
				"Put":    b.Put(ctx, "r/packs/ab/x.00", backend.Bytes([]byte("x"))),
				"Get":    gerr,
				"Stat":   serr,
				"List":   b.List(ctx, "", func(backend.Info) error { return nil }),
				"Delete": b.Delete(ctx, "r/packs/ab/x.00"),
			} {
				if op == "Stat" && tc.name == "bucket gone" {
					// A HEAD answer has no body, so S3 cannot say which
					// of bucket and object is missing: ErrNotExist.
					if !errors.Is(err, backend.ErrNotExist) {
						t.Errorf("Stat: %v, want ErrNotExist", err)
					}
					continue
				}
				if !errors.Is(err, backend.ErrUnavailable) {
					t.Errorf("%s: %v, want ErrUnavailable", op, err)
				} else if strings.Contains(err.Error(), srv.SecretKey) {
					t.Errorf("%s: the error repeats the secret: %v", op, err)
				}
			}
		})
	}

	b := srv.NewBackend(t, false)
	if err := b.Available(); err != nil {
		t.Fatalf("Available on a working store: %v", err)
	}
	_, err = b.Get(context.Background(), "r/packs/ab/none.00", 0, -1)
	if !errors.Is(err, backend.ErrNotExist) || errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("missing object on a working store: %v, want ErrNotExist only", err)
	}
}

// TestSilentEndpointIsNotRetried: a request that got no response within
// ResponseTimeout fails at once as unavailable instead of waiting as long
// again on each retry (the erasure layer goes around the store).
func TestSilentEndpointIsNotRetried(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	cfg := s3.Config{Bucket: "b", Endpoint: "http://" + silent.Addr().String(), PathStyle: true,
		Region: "us-east-1", AccessKey: "k", SecretKey: "s", MaxRetries: 4, MaxBackoff: 10 * time.Millisecond,
		ResponseTimeout: 200 * time.Millisecond}
	b, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Get(t.Context(), "r/packs/ab/x.00", 0, -1)
	if !errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("Get from a silent endpoint: %v, want ErrUnavailable", err)
	}
	if d, n := time.Since(start), conns.Load(); n != 1 || d > 900*time.Millisecond {
		t.Fatalf("Get from a silent endpoint took %s over %d connections: it was retried", d, n)
	}
}

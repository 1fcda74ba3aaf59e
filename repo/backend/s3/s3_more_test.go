package s3_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
)

func TestMultipart(t *testing.T) {
	ctx := t.Context()
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)
	b, err := s3.New(ctx, srv.Config(bucket, "mp"))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (2*s3.MinPartSize+100)/16)
	if err := b.Put(ctx, "big", backend.Bytes(data)); err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	head, err := client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp/big")})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Fatalf("ETag %s: want a 3-part multipart ETag", etag)
	}

	// A payload that fails in the second part: no object, no upload left.
	failing := &failingPayload{data: data, failAt: s3.MinPartSize + 10}
	err = b.Put(ctx, "broken", failing)
	if !errors.Is(err, errBoom) {
		t.Fatalf("Put with a failing payload: got %v, want %v", err, errBoom)
	}
	if _, err := b.Stat(ctx, "broken"); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat after failed multipart Put: %v", err)
	}
	ups, err := client.ListMultipartUploads(ctx, &s3sdk.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left after a failed Put, want 0 (aborted)", len(ups.Uploads))
	}
}

var errBoom = errors.New("payload source failed")

type failingPayload struct {
	data   []byte
	failAt int
}

func (p *failingPayload) Len() int64 { return int64(len(p.data)) }
func (p *failingPayload) Open() io.Reader {
	return io.MultiReader(bytes.NewReader(p.data[:p.failAt]), iotestErr{})
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errBoom }

// TestPrefixIsolation: a store sees only its prefix, and skips keys there
// that are not valid names.
func TestPrefixIsolation(t *testing.T) {
	ctx := t.Context()
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)
	b, err := s3.New(ctx, srv.Config(bucket, "store"))
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	for _, key := range []string{"other/x", "storeX/y", "store/.hidden", "store/dir/", "top"} {
		body := "foreign"
		if strings.HasSuffix(key, "/") {
			body = "" // a directory marker
		}
		if _, err := client.PutObject(ctx, &s3sdk.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
		}); err != nil {
			t.Fatalf("raw put %s: %v", key, err)
		}
	}
	if err := b.Put(ctx, "mine", backend.Bytes([]byte("mine"))); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := b.List(ctx, "", func(fi backend.Info) error {
		names = append(names, string(fi.Name))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"mine"}) {
		t.Fatalf("List = %q, want [mine]", names)
	}
}

// TestRetries: the SDK retryer resends a request the server failed, with the
// same (signed) body.
func TestRetries(t *testing.T) {
	ctx := t.Context()
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var requests, failures atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Fail the first two attempts of every PUT.
		if r.Method == http.MethodPut && requests.Add(1) <= 2 {
			failures.Add(1)
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>try again</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer flaky.Close()

	cfg := srv.Config(bucket, "retry")
	cfg.Endpoint = flaky.URL
	cfg.MaxBackoff = 20 * time.Millisecond
	b, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("survives two failures")
	if err := b.Put(ctx, "obj", backend.Bytes(data)); err != nil {
		t.Fatalf("Put through a flaky server: %v", err)
	}
	if failures.Load() != 2 {
		t.Fatalf("server failed %d requests, want 2", failures.Load())
	}
	got, err := backend.ReadAll(ctx, b, "obj", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}

	// With retries off, the first failure is final.
	requests.Store(0)
	cfg.MaxRetries = -1
	b, err = s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "obj2", backend.Bytes(data)); err == nil {
		t.Fatal("Put with retries off succeeded through a failing server")
	}
}

// TestAuthErrorsCarryNoSecrets: a wrong secret is a permission error whose
// message repeats no credential.
func TestAuthErrorsCarryNoSecrets(t *testing.T) {
	ctx := t.Context()
	srv := s3test.Start(t, s3test.Options{})
	cfg := srv.Config(srv.NewBucket(t, false), "p")
	cfg.SecretKey = "wrong-" + cfg.SecretKey
	b, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Put(ctx, "obj", backend.Bytes([]byte("x")))
	if !errors.Is(err, backend.ErrPermission) {
		t.Fatalf("Put with a wrong secret: got %v, want ErrPermission", err)
	}
	if strings.Contains(err.Error(), cfg.SecretKey) || strings.Contains(err.Error(), srv.SecretKey) {
		t.Fatalf("error repeats the secret: %v", err)
	}
	t.Logf("error: %v", err)
}

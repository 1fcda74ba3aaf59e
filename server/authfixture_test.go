package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// authClock is a settable clock for Options.Now.
type authClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *authClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *authClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openAuthEngine opens a storage engine over one in-memory store with its
// index in dataDir.
func openAuthEngine(t *testing.T, dataDir string) *repo.Repo {
	t.Helper()
	r, err := repo.Open(context.Background(), repo.Config{
		DataDir:    dataDir,
		Layout:     repo.NewLayout([]string{"mem"}, 2, 1),
		Stores:     []erasure.Store{{ID: 0, Backend: mem.New()}},
		PackTarget: 256 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// authFixture is a server on a loopback listener with two repositories,
// "alpha" and "beta", and a token for every principal of the role matrix.
type authFixture struct {
	eng     *repo.Repo
	clock   *authClock
	url     string
	dataDir string
	alpha   uint32
	beta    uint32
	tokens  map[string]string // principal → token text ("" for none)
}

// Principals of the role matrix, in table order.
var matrixPrincipals = []string{
	"none", "garbage", "expired",
	"backup", "restore", "admin", "replicate",
	"adminB", "server",
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	ctx := context.Background()
	f := &authFixture{
		dataDir: t.TempDir(),
		clock:   &authClock{now: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)},
		tokens:  map[string]string{"none": "", "garbage": TokenPrefix + "AAAAnot-a-token-at-all"},
	}
	f.eng = openAuthEngine(t, f.dataDir)
	var err error
	if f.alpha, err = f.eng.CreateRepository(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	if f.beta, err = f.eng.CreateRepository(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	f.tokens["expired"] = f.putToken(t, f.alpha, indexkey.RoleAdmin, f.clock.Now().Add(-time.Second))
	f.tokens["backup"] = f.putToken(t, f.alpha, indexkey.RoleBackup, time.Time{})
	f.tokens["restore"] = f.putToken(t, f.alpha, indexkey.RoleRestore, time.Time{})
	f.tokens["admin"] = f.putToken(t, f.alpha, indexkey.RoleAdmin, time.Time{})
	f.tokens["replicate"] = f.putToken(t, f.alpha, indexkey.RoleReplicate, time.Time{})
	f.tokens["adminB"] = f.putToken(t, f.beta, indexkey.RoleAdmin, time.Time{})
	f.tokens["server"], _, err = EnsureAdminToken(f.dataDir, f.eng)
	if err != nil {
		t.Fatal(err)
	}

	srv := New(f.eng, Options{Now: f.clock.Now, CollectGarbage: stubGC})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(srv.Handler(), slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	f.url = "http://" + ln.Addr().String()
	return f
}

// putToken registers a token directly in the index.
func (f *authFixture) putToken(t *testing.T, repoID uint32, role indexkey.Role, expires time.Time) string {
	t.Helper()
	tok, h, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b := f.eng.Index().NewBatch()
	defer b.Close()
	b.PutToken(h, indexkey.TokenRecord{Repo: repoID, Role: role, Expires: expires, Created: f.clock.Now().Add(-time.Hour)})
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	return tok
}

// h2cClient speaks HTTP/2 without TLS, as gRPC needs (and Connect may).
var h2cClient = func() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}()

// withBearer adds "Authorization: Bearer tok" to every request; "" adds
// nothing.
type withBearer string

func (b withBearer) set(h http.Header) {
	if b != "" {
		h.Set("Authorization", "Bearer "+string(b))
	}
}

func (b withBearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		b.set(req.Header())
		return next(ctx, req)
	}
}

func (b withBearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		b.set(conn.RequestHeader())
		return conn
	}
}

func (b withBearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// authClients are clients of every service that send one token.
type authClients struct {
	repo   holdfastv1connect.RepoServiceClient
	token  holdfastv1connect.TokenServiceClient
	upload holdfastv1connect.UploadServiceClient
	snap   holdfastv1connect.SnapshotServiceClient
	chunk  holdfastv1connect.ChunkServiceClient
	info   holdfastv1connect.InfoServiceClient
	ret    holdfastv1connect.RetentionServiceClient
	repl   holdfastv1connect.ReplicationServiceClient
}

// clientsFor returns clients that send tok, over Connect or gRPC.
func (f *authFixture) clientsFor(tok string, grpc bool) *authClients {
	opts := []connect.ClientOption{connect.WithInterceptors(withBearer(tok))}
	if grpc {
		opts = append(opts, connect.WithGRPC())
	}
	return &authClients{
		repo:   holdfastv1connect.NewRepoServiceClient(h2cClient, f.url, opts...),
		token:  holdfastv1connect.NewTokenServiceClient(h2cClient, f.url, opts...),
		upload: holdfastv1connect.NewUploadServiceClient(h2cClient, f.url, opts...),
		snap:   holdfastv1connect.NewSnapshotServiceClient(h2cClient, f.url, opts...),
		chunk:  holdfastv1connect.NewChunkServiceClient(h2cClient, f.url, opts...),
		info:   holdfastv1connect.NewInfoServiceClient(h2cClient, f.url, opts...),
		ret:    holdfastv1connect.NewRetentionServiceClient(h2cClient, f.url, opts...),
		repl:   holdfastv1connect.NewReplicationServiceClient(h2cClient, f.url, opts...),
	}
}

// as returns Connect clients for a principal of the fixture.
func (f *authFixture) as(principal string) *authClients {
	return f.clientsFor(f.tokens[principal], false)
}

// authWant fails the test unless err has code want (0: success).
func authWant(t *testing.T, what string, err error, want connect.Code) {
	t.Helper()
	if got := codeOf(err); got != want {
		t.Fatalf("%s: got %v (%v), want %v", what, got, err, want)
	}
}

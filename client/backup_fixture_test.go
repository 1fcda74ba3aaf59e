package client

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format/chunker"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/server"
)

// bkServer is a real holdfastd on a loopback listener: the storage engine
// over three local stores (2+1 shards) in a temporary directory.
type bkServer struct {
	url   string
	eng   *repo.Repo
	admin string // server-admin token
}

func newBkServer(t testing.TB) *bkServer {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	var stores []string
	for _, s := range []string{"s0", "s1", "s2"} {
		stores = append(stores, filepath.Join(data, s))
	}
	layout, err := repo.LoadOrCreateLayout(data, repo.NewLayout(stores, 2, 1), true)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := repo.Open(ctx, repo.Config{DataDir: data, Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	admin, _, err := server.EnsureAdminToken(data, eng)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(server.New(eng, server.Options{}).Handler(), slog.New(slog.DiscardHandler))
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.Serve(sctx, hs, ln, "", "") }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return &bkServer{url: "http://" + ln.Addr().String(), eng: eng, admin: admin}
}

// createRepo creates a repository through the API.
func (s *bkServer) createRepo(t testing.TB, name string) {
	t.Helper()
	c := Dial(Config{Server: s.url, Token: s.admin})
	if _, err := c.Repos.CreateRepo(context.Background(), connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: name})); err != nil {
		t.Fatal(err)
	}
}

// token creates a token of role for repository name.
func (s *bkServer) token(t testing.TB, name string, role holdfastv1.Role) string {
	t.Helper()
	c := Dial(Config{Server: s.url, Token: s.admin})
	resp, err := c.Tokens.CreateToken(context.Background(), connect.NewRequest(&holdfastv1.CreateTokenRequest{Repo: name, Role: role}))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Msg.Token
}

// bkTestParams are small chunker parameters, so small test files still
// make many chunks.
var bkTestParams = chunker.Params{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10}

// initRepo creates repository name, initializes its keys with the given
// chunker parameters and returns it opened with an admin token.
func (s *bkServer) initRepo(t testing.TB, name string, p chunker.Params) *Repository {
	t.Helper()
	s.createRepo(t, name)
	c := Dial(Config{Server: s.url, Token: s.token(t, name, holdfastv1.Role_ROLE_ADMIN), Repo: name})
	r, err := Init(context.Background(), c, []byte("pw"), InitOptions{Chunker: p, KDF: keys.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// as opens repository r's name with another role's token.
func (s *bkServer) as(t testing.TB, r *Repository, role holdfastv1.Role) *Repository {
	t.Helper()
	c := Dial(Config{Server: s.url, Token: s.token(t, r.Repo(), role), Repo: r.Repo()})
	r2, err := Open(context.Background(), c, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return r2
}

// bkReadContent reassembles a file's content from the server.
func bkReadContent(t testing.TB, r *Repository, exts []tree.Extent) []byte {
	t.Helper()
	var out bytes.Buffer
	var ids [][]byte
	for _, x := range exts {
		if !x.Hole {
			ids = append(ids, x.ID[:])
		}
	}
	var plains [][]byte
	if len(ids) > 0 {
		st, err := r.Chunks.ReadChunks(context.Background(), connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: r.Repo(), Ids: ids}))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for st.Receive() {
			id := [32]byte(st.Msg().Id)
			p, typ, err := r.Sealer.Open(nil, id, st.Msg().Envelope)
			if err != nil || typ != seal.TypeData {
				t.Fatalf("open chunk: %v (%s)", err, typ)
			}
			plains = append(plains, p)
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range exts {
		if x.Hole {
			out.Write(make([]byte, x.Length))
			continue
		}
		p := plains[0]
		plains = plains[1:]
		if uint64(len(p)) != x.Length {
			t.Fatalf("chunk %s: %d bytes, extent says %d", x.ID.Short(), len(p), x.Length)
		}
		out.Write(p)
	}
	return out.Bytes()
}

// bkSnapshotTree loads every directory of a snapshot: rel path → entries.
func bkSnapshotTree(t testing.TB, r *Repository, root []tree.Extent) map[string][]tree.Entry {
	t.Helper()
	out := map[string][]tree.Entry{}
	var walk func(rel string, exts []tree.Extent)
	walk = func(rel string, exts []tree.Extent) {
		entries, err := r.bkFetchTree(context.Background(), exts)
		if err != nil {
			t.Fatalf("tree %q: %v", rel, err)
		}
		out[rel] = entries
		for _, e := range entries {
			if e.Type == tree.Dir {
				walk(filepath.Join(rel, e.Name), e.Subtree)
			}
		}
	}
	walk("", root)
	return out
}

package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/keys"
)

const replPassword = "repl-test-password"

// site is one real holdfastd process with its data directory; it can be
// killed with SIGKILL and restarted on the same address.
type site struct {
	t     *testing.T
	bin   string
	data  string
	addr  string
	url   string
	extra []string
	cmd   *exec.Cmd
	admin string
	roots *x509.CertPool // what this test's clients trust, for an https site
}

func startSite(t *testing.T, bin string, extra ...string) *site {
	t.Helper()
	s := &site{t: t, bin: bin, data: filepath.Join(t.TempDir(), "data"), addr: freeAddr(t), extra: extra}
	s.start()
	s.admin = readToken(t, s.data)
	return s
}

func (s *site) start() {
	s.t.Helper()
	args := append([]string{"serve", "--data", s.data, "--listen", s.addr}, s.extra...)
	s.cmd = exec.Command(s.bin, args...)
	s.url = startCmd(s.t, s.cmd)
}

// kill9 sends SIGKILL and reaps the process.
func (s *site) kill9() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

// conn returns a client connection with token to repository repo.
func (s *site) conn(token, repo string) *client.Conn {
	return client.Dial(client.Config{Server: s.url, Token: token, Repo: repo, RootCAs: s.roots})
}

// token creates a token of role for repo with the server-admin token.
func (s *site) token(repo string, role holdfastv1.Role) string {
	s.t.Helper()
	resp, err := s.conn(s.admin, "").Tokens.CreateToken(context.Background(), connect.NewRequest(&holdfastv1.CreateTokenRequest{Repo: repo, Role: role}))
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.Msg.Token
}

// setReplica sets or clears the replica flag with the server-admin token.
func (s *site) setReplica(repo string, replica bool) error {
	_, err := s.conn(s.admin, "").Replication.SetReplica(context.Background(), connect.NewRequest(&holdfastv1.SetReplicaRequest{Repo: repo, Replica: replica}))
	return err
}

// snapshotIDs lists the snapshot IDs of repo with token.
func (s *site) snapshotIDs(token, repo string) []format.ID {
	s.t.Helper()
	resp, err := s.conn(token, repo).Snapshots.ListSnapshots(context.Background(), connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: repo}))
	if err != nil {
		s.t.Fatal(err)
	}
	var ids []format.ID
	for _, sn := range resp.Msg.Snapshots {
		id, _ := format.IDFromBytes(sn.Id)
		ids = append(ids, id)
	}
	return ids
}

// durableChunks is the target's count of indexed (durable) chunks.
func (s *site) durableChunks(repo string) uint64 {
	resp, err := s.conn(s.admin, repo).Repos.GetStats(context.Background(), connect.NewRequest(&holdfastv1.GetStatsRequest{Repo: repo}))
	if err != nil {
		return 0
	}
	return resp.Msg.Chunks
}

// replPair is a source site with an initialised repository "web" and a
// target site with a replica "web" and a replicate token for it.
type replPair struct {
	src, dst  *site
	srcAdmin  string // admin token of web on the source
	replToken string // replicate token of web on the target
	repo      *client.Repository
}

func newReplPair(t *testing.T, bin string, srcExtra ...string) *replPair {
	t.Helper()
	p := &replPair{dst: startSite(t, bin)}
	createRepo(t, p.dst.url, p.dst.admin, "web")
	if err := p.dst.setReplica("web", true); err != nil {
		t.Fatal(err)
	}
	p.replToken = p.dst.token("web", holdfastv1.Role_ROLE_REPLICATE)
	p.startSource(t, bin, srcExtra...)
	return p
}

func (p *replPair) startSource(t *testing.T, bin string, extra ...string) {
	t.Helper()
	p.src = startSite(t, bin, extra...)
	createRepo(t, p.src.url, p.src.admin, "web")
	p.srcAdmin = p.src.token("web", holdfastv1.Role_ROLE_ADMIN)
	r, err := client.Init(context.Background(), p.src.conn(p.srcAdmin, "web"), []byte(replPassword), client.InitOptions{KDF: keys.TestKDF, Label: "repl"})
	if err != nil {
		t.Fatal(err)
	}
	p.repo = r
}

// backup backs dir up on the source and returns the snapshot ID.
func (p *replPair) backup(t *testing.T, dir string) format.ID {
	t.Helper()
	sum, err := p.repo.Backup(context.Background(), client.BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	return sum.SnapshotID
}

// replicate runs one pass through the source's ReplicationService and
// returns the pass summary.
func (p *replPair) replicate(ctx context.Context, req *holdfastv1.ReplicateRequest) (*holdfastv1.ReplicateResponse, error) {
	if req.Repo == "" {
		req.Repo = "web"
	}
	if req.TargetUrl == "" {
		req.TargetUrl = p.dst.url
	}
	if req.TargetToken == "" {
		req.TargetToken = p.replToken
	}
	stream, err := p.src.conn(p.srcAdmin, "web").Replication.Replicate(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	var last *holdfastv1.ReplicateResponse
	for stream.Receive() {
		last = stream.Msg()
	}
	return last, stream.Err()
}

// writeTree fills dir with files of pseudo-random (incompressible) content
// from seed: n files of size bytes each.
func writeTree(t *testing.T, dir string, seed uint64, n, size int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range n {
		b := make([]byte, size)
		for j := 0; j+8 <= len(b); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		sub := filepath.Join(dir, "d"+string(rune('a'+i%3)))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "f"+string(rune('a'+i%26))+string(rune('0'+i/26))), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// restoreAndCompare restores snapshot id from the target with a restore
// token and checks every regular file of want byte for byte.
func restoreAndCompare(t *testing.T, s *site, token string, id format.ID, want string) {
	t.Helper()
	ctx := context.Background()
	r, err := client.Open(ctx, s.conn(token, "web"), []byte(replPassword))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Resolve(ctx, id.String())
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if _, err := r.Restore(ctx, snap, client.RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(want, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(want, path)
		a, _ := os.ReadFile(path)
		b, err := os.ReadFile(filepath.Join(target, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs after restore from the replica", rel)
		}
		files++
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("compare restore: %v (%d files)", err, files)
	}
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

func codeIs(err error, code connect.Code) bool { return connect.CodeOf(err) == code && err != nil }

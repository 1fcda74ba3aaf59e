package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/server"
)

// rcFixture is a server with repository "data", its keys, and a token per
// role, for the restore-side CLI tests.
type rcFixture struct {
	url    string
	tokens map[string]string
	r      *client.Repository
}

const rcPassword = "cli restore password"

func newRCFixture(t *testing.T) *rcFixture {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	stores := []string{filepath.Join(data, "s0"), filepath.Join(data, "s1"), filepath.Join(data, "s2")}
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
	f := &rcFixture{url: "http://" + ln.Addr().String(), tokens: map[string]string{"server": admin}}
	c := client.Dial(client.Config{Server: f.url, Token: admin, Repo: "data"})
	if _, err := c.Repos.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: "data"})); err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]holdfastv1.Role{"admin": holdfastv1.Role_ROLE_ADMIN, "restore": holdfastv1.Role_ROLE_RESTORE} {
		resp, err := c.Tokens.CreateToken(ctx, connect.NewRequest(&holdfastv1.CreateTokenRequest{Repo: "data", Role: role}))
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = resp.Msg.Token
	}
	ac := client.Dial(client.Config{Server: f.url, Token: f.tokens["admin"], Repo: "data"})
	if f.r, err = client.Init(ctx, ac, []byte(rcPassword), client.InitOptions{KDF: keys.TestKDF, Label: "cli"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// rcItem is a file (data), directory (dir) or symlink (link) of a test
// snapshot; forged stores the file's chunk with another chunk's envelope.
type rcItem struct {
	path   string
	data   string
	dir    bool
	link   string
	dev    bool // the character device 1,3
	forged bool
}

// snapshot seals, uploads and commits items as a snapshot, without the
// backup code. Paths are relative; parents must be listed before children.
func (f *rcFixture) snapshot(t *testing.T, items ...rcItem) format.ID {
	t.Helper()
	ctx := context.Background()
	r := f.r
	chunks := map[format.ID][]byte{}
	put := func(typ seal.Type, plain, sealed []byte) tree.Extent {
		id := r.Sealer.ID(plain)
		if sealed == nil {
			sealed = plain
		}
		env, err := r.Sealer.Seal(nil, typ, r.Sealer.ID(sealed), sealed, nil)
		if err != nil {
			t.Fatal(err)
		}
		chunks[id] = env
		return tree.Extent{ID: id, Length: uint64(len(plain))}
	}
	var encode func(dir string) []tree.Extent
	encode = func(dir string) []tree.Extent {
		var entries []tree.Entry
		for _, it := range items {
			if filepath.Dir(it.path) != dir {
				continue
			}
			e := tree.Entry{Name: filepath.Base(it.path), Mode: 0o644, MTime: 1_700_000_000_000_000_000, Links: 1}
			switch {
			case it.dir:
				e.Type, e.Mode, e.Subtree = tree.Dir, 0o755, encode(it.path)
			case it.link != "":
				e.Type, e.Mode, e.LinkTarget = tree.Symlink, 0o777, it.link
			case it.dev:
				e.Type, e.Mode, e.RDevMajor, e.RDevMinor = tree.CharDev, 0o666, 1, 3
			default:
				e.Type, e.Size = tree.File, uint64(len(it.data))
				if it.data != "" {
					var sealed []byte
					if it.forged {
						sealed = []byte("something else")
					}
					e.Content = []tree.Extent{put(seal.TypeData, []byte(it.data), sealed)}
				}
			}
			entries = append(entries, e)
		}
		slices.SortFunc(entries, func(a, b tree.Entry) int { return strings.Compare(a.Name, b.Name) })
		raw, err := tree.Encode(entries)
		if err != nil {
			t.Fatal(err)
		}
		return []tree.Extent{put(seal.TypeTree, raw, nil)}
	}
	root := encode(".")
	begin, err := r.Upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: "data"}))
	if err != nil {
		t.Fatal(err)
	}
	sid := begin.Msg.SessionId
	var refs []format.ID
	stream := r.Upload.PutChunks(ctx)
	for id, env := range chunks {
		refs = append(refs, id)
		sum := blake3.Sum256(env)
		if err := stream.Send(&holdfastv1.PutChunksRequest{Repo: "data", SessionId: sid,
			Chunks: []*holdfastv1.Chunk{{Id: bytes.Clone(id[:]), Envelope: env, Checksum: sum[:]}}}); err != nil {
			break
		}
	}
	if _, err := stream.CloseAndReceive(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(refs, format.ID.Compare)
	sum, _ := snapshot.RefsHash(refs)
	h := &snapshot.Header{Time: time.Now().UnixNano(), Host: "cli-test", Source: snapshot.Source{Kind: "path", Name: "/src"},
		Paths: []string{"/src"}, Root: root, ClientVersion: "test", RefCount: uint64(len(refs)), RefsHash: sum}
	h.Sign(r.Keys.MAC)
	commit := r.Upload.Commit(ctx)
	ids := make([][]byte, len(refs))
	for i := range refs {
		ids[i] = refs[i][:]
	}
	if err := commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{Repo: "data", SessionId: sid, Header: h.Encode()}}}); err == nil {
		commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: ids}}})
	}
	resp, err := commit.CloseAndReceive()
	if err != nil {
		t.Fatal(err)
	}
	return format.ID(resp.Msg.SnapshotId)
}

type rcRun struct {
	code           int
	stdout, stderr string
}

// run runs the client binary with token role (and a password).
func (f *rcFixture) run(t *testing.T, role, password string, args ...string) rcRun {
	t.Helper()
	return f.runAs(t, 0, role, password, args...)
}

// runAs runs the binary as user uid when it is not 0 (tests run as root).
func (f *rcFixture) runAs(t *testing.T, uid int, role, password string, args ...string) rcRun {
	t.Helper()
	cmd := exec.Command(cliBinary(t), args...)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	home := t.TempDir()
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "XDG_CACHE_HOME=" + home,
		"HOLDFAST_SERVER=" + f.url, "HOLDFAST_TOKEN=" + f.tokens[role], "HOLDFAST_REPO=data", "HOLDFAST_PASSWORD=" + password}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := rcRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		res.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}

func (res rcRun) want(t *testing.T, code int, what string) rcRun {
	t.Helper()
	if res.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, res.code, code, res.stdout, res.stderr)
	}
	return res
}

func TestCLIRestoreSide(t *testing.T) {
	f := newRCFixture(t)
	items := []rcItem{
		{path: "etc", dir: true},
		{path: "etc/app.conf", data: "key = value\n"},
		{path: "etc/current", link: "app.conf"},
		{path: "empty", dir: true},
		{path: "readme", data: strings.Repeat("holdfast ", 5000)},
	}
	id := f.snapshot(t, items...)
	f.snapshot(t, rcItem{path: "newer", data: "newest snapshot"})

	// restore with a restore token, by ID prefix.
	target := t.TempDir()
	res := f.run(t, "restore", rcPassword, "restore", id.String()[:10], "--target", target).want(t, 0, "restore")
	if !strings.Contains(res.stdout, "restored snapshot "+id.Short()) || res.stderr != "" {
		t.Errorf("restore output: %q, stderr %q", res.stdout, res.stderr)
	}
	for _, it := range items {
		p := filepath.Join(target, it.path)
		switch {
		case it.dir:
			if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
				t.Errorf("%s: not a directory: %v", it.path, err)
			}
		case it.link != "":
			if got, err := os.Readlink(p); err != nil || got != it.link {
				t.Errorf("%s: link %q, %v", it.path, got, err)
			}
		default:
			if got, err := os.ReadFile(p); err != nil || string(got) != it.data {
				t.Errorf("%s: %q, %v", it.path, got, err)
			}
		}
	}
	// --include, and latest.
	target = t.TempDir()
	f.run(t, "restore", rcPassword, "restore", id.String(), "--target", target, "--include", "/etc/app.conf").want(t, 0, "restore --include")
	if got := rcList(t, target); !slices.Equal(got, []string{"etc", "etc/app.conf"}) {
		t.Errorf("restore --include: %q", got)
	}
	target = t.TempDir()
	f.run(t, "restore", rcPassword, "restore", "latest", "--target", target).want(t, 0, "restore latest")
	if got := rcList(t, target); !slices.Equal(got, []string{"newer"}) {
		t.Errorf("restore latest: %q", got)
	}

	// Failures and their exit codes.
	if res := f.run(t, "restore", "wrong password", "restore", "latest", "--target", t.TempDir()).want(t, 1, "wrong password"); !strings.Contains(res.stderr, "wrong password") {
		t.Errorf("wrong password: %q", res.stderr)
	}
	if res := f.run(t, "restore", rcPassword, "restore", "deadbeefdeadbeef", "--target", t.TempDir()).want(t, 1, "unknown snapshot"); !strings.Contains(res.stderr, "no such snapshot") {
		t.Errorf("unknown snapshot: %q", res.stderr)
	}
	f.run(t, "restore", rcPassword, "restore", "latest").want(t, 2, "no --target")
	f.run(t, "restore", rcPassword, "restore", id.String(), "--target", t.TempDir(), "--include", "nope").want(t, 1, "unknown include")
	f.tokens["bogus"] = "not-a-token"
	f.run(t, "bogus", rcPassword, "stats").want(t, 4, "unknown token")
	f.run(t, "bogus", rcPassword, "restore", "latest", "--target", t.TempDir()).want(t, 4, "unknown token")

	// dump: tar of everything, of a subtree, and a file's bytes.
	res = f.run(t, "restore", rcPassword, "dump", id.String()).want(t, 0, "dump")
	tr := tar.NewReader(strings.NewReader(res.stdout))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "readme" {
			if b, _ := io.ReadAll(tr); string(b) != items[4].data {
				t.Errorf("dump: readme differs")
			}
		}
	}
	if want := []string{"empty/", "etc/", "etc/app.conf", "etc/current", "readme"}; !slices.Equal(names, want) {
		t.Errorf("dump members %q, want %q", names, want)
	}
	if res := f.run(t, "restore", rcPassword, "dump", id.String(), "/etc/app.conf").want(t, 0, "dump file"); res.stdout != "key = value\n" {
		t.Errorf("dump file: %q", res.stdout)
	}
	f.run(t, "restore", rcPassword, "dump", id.String(), "/etc/current/x").want(t, 1, "dump through a symlink")

	// ls, text and JSON.
	res = f.run(t, "restore", rcPassword, "ls", id.String()).want(t, 0, "ls")
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); len(lines) != 5 ||
		!strings.HasPrefix(lines[2], "-rw-r--r--") || !strings.HasSuffix(lines[2], " /etc/app.conf") ||
		!strings.HasSuffix(lines[3], "/etc/current -> app.conf") || !strings.HasPrefix(lines[0], "drwxr-xr-x") {
		t.Errorf("ls:\n%s", res.stdout)
	}
	res = f.run(t, "restore", rcPassword, "ls", id.String(), "/etc", "--json").want(t, 0, "ls --json")
	var got []lsJSON
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var j lsJSON
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("ls --json line %q: %v", line, err)
		}
		got = append(got, j)
	}
	if len(got) != 3 || got[0].Path != "/etc" || got[0].Type != "dir" || got[1].Size != 12 || got[1].Mode != "0644" ||
		got[2].LinkTarget != "app.conf" || got[1].MTime != "2023-11-14T22:13:20Z" {
		t.Errorf("ls --json: %+v", got)
	}

	// stats, and verify clean then with a chunk the server serves wrong.
	res = f.run(t, "restore", "", "stats", "--json").want(t, 0, "stats")
	var st statsJSON
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil || st.Snapshots != 2 || st.Chunks == 0 || st.Repo != "data" {
		t.Errorf("stats: %q %v", res.stdout, err)
	}
	f.run(t, "restore", rcPassword, "verify", "--read-data").want(t, 0, "verify")
	f.snapshot(t, rcItem{path: "bad", data: "these bytes are not what is stored", forged: true})
	f.run(t, "restore", rcPassword, "verify").want(t, 0, "verify without --read-data")
	res = f.run(t, "restore", rcPassword, "verify", "--read-data").want(t, 1, "verify --read-data")
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "/bad: open chunk") ||
		!strings.Contains(lines[1], "1 problems") || !strings.Contains(res.stderr, "1 problems found") {
		t.Errorf("verify --read-data:\n%s\nstderr: %s", res.stdout, res.stderr)
	}

	// As an ordinary user: owners are left alone silently, a device node
	// is a warning, the rest is restored.
	if os.Geteuid() == 0 {
		id := f.snapshot(t, rcItem{path: "null", dev: true}, rcItem{path: "file", data: "as nobody"})
		base, err := os.MkdirTemp("", "holdfast-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(base) })
		os.Chmod(base, 0o755)
		target := filepath.Join(base, "target")
		os.Mkdir(target, 0o755)
		os.Chown(target, 65534, 65534)
		res := f.runAs(t, 65534, "restore", rcPassword, "restore", id.String(), "--target", target).want(t, 0, "restore as nobody")
		if !strings.Contains(res.stderr, "warning: /null: chardev not created") || strings.Count(res.stderr, "\n") != 1 {
			t.Errorf("restore as nobody: stderr %q", res.stderr)
		}
		if b, err := os.ReadFile(filepath.Join(target, "file")); err != nil || string(b) != "as nobody" {
			t.Errorf("restore as nobody: %q %v", b, err)
		}
	}

	// Every command explains itself with examples.
	for _, c := range []string{"restore", "dump", "ls", "verify", "stats"} {
		if res := f.run(t, "restore", "", c, "--help").want(t, 0, c+" --help"); !strings.Contains(res.stdout, "Examples:") {
			t.Errorf("%s --help has no examples:\n%s", c, res.stdout)
		}
	}
}

// rcList lists dir's contents as sorted relative paths.
func rcList(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

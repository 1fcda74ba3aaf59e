package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	chaosPassword = "chaos correct horse battery"
	chaosRepo     = "chaos"
)

var snapshotID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fixture is a real server over six local stores (4+2 shards) with
// repository "chaos", its keys, a client per role, a source tree, and the
// snapshots the client reported committed.
type fixture struct {
	t      *testing.T
	d      *daemon
	stores []string
	// server holds the server-admin token; admin, backup and restore the
	// repository's tokens of those roles.
	server, admin, backup, restore *client
	src                            *source
	committed                      []snap
}

// snap is a snapshot the client reported committed and the manifest of the
// tree it was taken of.
type snap struct {
	id   string
	want manifest
}

// newFixture starts the server over stores (six directories; nil: fresh
// ones) with the extra serve flags and sets up the repository and tokens
// through the CLI.
func newFixture(t *testing.T, stores []string, files int, size int64, extra ...string) *fixture {
	t.Helper()
	f := newServer(t, stores, extra...)
	f.setup(files, size)
	return f
}

// newServer starts a server over stores (nil: six fresh directories) with
// the extra serve flags; it creates no repository.
func newServer(t *testing.T, stores []string, extra ...string) *fixture {
	t.Helper()
	base := t.TempDir()
	if stores == nil {
		for i := range 6 {
			stores = append(stores, filepath.Join(base, fmt.Sprintf("store%d", i)))
		}
	}
	args := []string{"--shards", "4+2"}
	for _, s := range stores {
		if !strings.Contains(s, "://") { // a local store's directory
			if err := os.MkdirAll(s, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "--store", s)
	}
	f := &fixture{t: t, d: newDaemon(t, filepath.Join(base, "data"), append(args, extra...)...), stores: stores}
	f.d.start()
	return f
}

// setup creates the repository, its tokens and keys, and the source tree.
func (f *fixture) setup(files int, size int64) {
	t := f.t
	t.Helper()
	f.server = f.client(f.d.adminToken())
	f.want(f.server.run("admin", "repo", "create", chaosRepo), 0, "admin repo create")
	f.admin, f.backup, f.restore = f.client(f.token("admin", "")), f.client(f.token("backup", "")), f.client(f.token("restore", ""))
	f.want(f.admin.run("init"), 0, "init")
	f.src = newSource(t, files, size)
}

// client returns a client of repository chaos with token, with its own
// cache directory.
func (f *fixture) client(token string) *client {
	_, bin := binaries(f.t)
	return &client{t: f.t, bin: bin, d: f.d, token: token, repo: chaosRepo, home: f.t.TempDir()}
}

// token creates a token of role for the repository (ttl "" = no expiry).
func (f *fixture) token(role, ttl string) string {
	f.t.Helper()
	args := []string{"admin", "token", "create", "--repo", chaosRepo, "--role", role}
	if ttl != "" {
		args = append(args, "--ttl", ttl)
	}
	tok := strings.TrimSpace(f.want(f.server.run(args...), 0, "token create "+role).stdout)
	if !strings.HasPrefix(tok, "hf_") {
		f.t.Fatalf("token create printed %q", tok)
	}
	return tok
}

// want fails the test unless r exited with code.
func (f *fixture) want(r result, code int, what string) result {
	f.t.Helper()
	if r.code != code {
		f.t.Fatalf("%s: %v (want exit %d)", what, r, code)
	}
	return r
}

// takeBackup backs up the source as it is; it returns the snapshot and the
// run (the snapshot is recorded as committed only on exit 0).
func (f *fixture) takeBackup(c *client) (snap, result) {
	f.t.Helper()
	want, _, err := scan(f.src.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	r := c.run("backup", f.src.dir, "--host", "chaos")
	return f.record(r, want), r
}

// record adds the snapshot a finished backup reported (exit 0 and an ID
// on its last line) to the committed list.
func (f *fixture) record(r result, want manifest) snap {
	if r.code != 0 {
		return snap{}
	}
	id := r.lastLine()
	if !snapshotID.MatchString(id) {
		f.t.Fatalf("backup exited 0 but its last line %q is not a snapshot ID", id)
	}
	s := snap{id: id, want: want}
	f.committed = append(f.committed, s)
	return s
}

// listed returns the IDs `holdfast snapshots --json` lists.
func (f *fixture) listed() (map[string]bool, error) {
	r := f.restore.run("snapshots", "--json")
	if r.code != 0 {
		return nil, fmt.Errorf("snapshots --json: %v", r)
	}
	var list []struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		return nil, fmt.Errorf("snapshots --json: %v", err)
	}
	ids := map[string]bool{}
	for _, s := range list {
		ids[s.ID] = true
	}
	return ids, nil
}

// restoreCheck restores s into a fresh directory and compares it with the
// tree it was taken of; it returns the bytes checked.
func (f *fixture) restoreCheck(s snap) (int64, error) {
	target, err := os.MkdirTemp(f.t.TempDir(), "restore")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(target)
	if r := f.restore.run("restore", s.id, "--target", target); r.code != 0 {
		return 0, fmt.Errorf("restore %s: %v", s.id[:12], r)
	}
	got, n, err := scan(f.restored(target))
	if err != nil {
		return 0, fmt.Errorf("restore %s: %v", s.id[:12], err)
	}
	if d := s.want.diff(got); d != "" {
		return 0, fmt.Errorf("restore %s is not bit-exact: %s", s.id[:12], d)
	}
	return n, nil
}

// verifyReadData runs `holdfast verify --read-data`.
func (f *fixture) verifyReadData() error {
	if r := f.admin.run("verify", "--read-data"); r.code != 0 {
		return fmt.Errorf("verify --read-data: %v", r)
	}
	return nil
}

// checkAll checks the invariants after a fault: every committed snapshot
// lists, the repository verifies with --read-data, and the snapshots in
// restore (all when nil) restore bit-exact. It records failures in s and
// returns the bytes restored.
func (f *fixture) checkAll(s *tally, restore []snap) int64 {
	f.t.Helper()
	ids, err := f.listed()
	if err != nil {
		s.fail("%v", err)
		return 0
	}
	for _, c := range f.committed {
		if !ids[c.id] {
			s.fail("committed snapshot %s is lost", c.id[:12])
		}
	}
	if err := f.verifyReadData(); err != nil {
		s.fail("%v", err)
	}
	if restore == nil {
		restore = f.committed
	}
	var total int64
	for _, c := range restore {
		n, err := f.restoreCheck(c)
		if err != nil {
			s.fail("%v", err)
		}
		total += n
	}
	return total
}

// restored is where a restore into target put the source tree: a snapshot
// of one path restores that directory's content into target itself.
func (f *fixture) restored(target string) string {
	if nested := filepath.Join(target, filepath.Base(f.src.dir)); exists(nested) {
		return nested
	}
	return target
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

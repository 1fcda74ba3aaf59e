package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// cliSetup creates repository name with admin, backup and restore tokens
// through the CLI and initializes it; it returns an environment per role.
func cliSetup(t testing.TB, srv *cliServer, name string) (admin, backup, restore cliEnv) {
	t.Helper()
	cache := t.TempDir()
	base := cliEnv{server: srv.url, token: srv.admin, repo: name, password: "correct horse", cache: cache, ca: srv.ca}
	base.run(t, "admin", "repo", "create", name).want(t, 0, "admin repo create")
	token := func(role string) string {
		r := base.run(t, "admin", "token", "create", "--repo", name, "--role", role, "--ttl", "30d", "--label", "test "+role).want(t, 0, "token create "+role)
		tok := strings.TrimSpace(r.stdout)
		if !strings.HasPrefix(tok, "hf_") || strings.Contains(tok, "\n") {
			t.Fatalf("token create printed %q", r.stdout)
		}
		return tok
	}
	admin, backup, restore = base, base, base
	admin.token, backup.token, restore.token = token("admin"), token("backup"), token("restore")
	r := admin.run(t, "init").want(t, 0, "init")
	if id, err := hex.DecodeString(strings.TrimSpace(r.stdout)); err != nil || len(id) != 16 {
		t.Fatalf("init printed %q, want the 32-hex-digit repository ID", r.stdout)
	}
	return admin, backup, restore
}

// TestCLIBackup runs the client binary against a server: admin commands,
// init, backup (text and --json), an unchanged backup that reads nothing,
// snapshots (table and --json), and the usage, denied and failure exits.
func TestCLIBackup(t *testing.T) {
	srv := newCLIServer(t)
	admin, backup, restore := cliSetup(t, srv, "cli")
	dir := t.TempDir()
	for name, data := range map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", "sub/deeper/c": strings.Repeat("c", 100000)} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	r := backup.run(t, "backup", dir, "--tag", "daily", "--tag", "cli", "--host", "h1").want(t, 0, "backup")
	first := r.lastLine()
	if !hexID.MatchString(first) {
		t.Fatalf("backup's last line %q is not a snapshot ID", first)
	}

	r = backup.run(t, "backup", dir, "--host", "h1", "--tag", "daily", "--json").want(t, 0, "backup --json")
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.lastLine()), &sum); err != nil {
		t.Fatalf("summary line %q: %v", r.lastLine(), err)
	}
	for _, k := range []string{"message_type", "snapshot_id", "files_new", "files_changed", "files_unmodified",
		"bytes_read", "bytes_added", "bytes_uploaded", "duration_s"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary has no %q: %s", k, r.lastLine())
		}
	}
	if sum["message_type"] != "summary" || sum["bytes_read"] != 0.0 || sum["bytes_uploaded"] != 0.0 ||
		sum["files_unmodified"] != 3.0 || sum["files_new"] != 0.0 || !hexID.MatchString(sum["snapshot_id"].(string)) {
		t.Errorf("unchanged backup summary: %s", r.lastLine())
	}
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("--json printed more than the summary line: %q", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr is not a terminal, yet got %q", r.stderr)
	}

	// snapshots, with the restore token.
	r = restore.run(t, "snapshots", "--json").want(t, 0, "snapshots --json")
	var snaps []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &snaps); err != nil {
		t.Fatalf("snapshots --json: %v\n%s", err, r.stdout)
	}
	if len(snaps) != 2 || snaps[0]["id"] != first || snaps[1]["id"] != sum["snapshot_id"] {
		t.Fatalf("snapshots: %s", r.stdout)
	}
	s0 := snaps[0]
	src, _ := s0["source"].(map[string]any)
	if s0["host"] != "h1" || src["kind"] != "path" || src["name"] != dir || s0["lock"] != nil ||
		s0["size"] != 100009.0 || len(s0["tags"].([]any)) != 2 {
		t.Errorf("snapshot 0: %v", s0)
	}
	if _, ok := s0["lock"]; !ok {
		t.Error("snapshot has no lock field")
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT`).MatchString(s0["time"].(string)) {
		t.Errorf("time %v is not RFC 3339", s0["time"])
	}
	r = restore.run(t, "snapshots").want(t, 0, "snapshots")
	if !strings.Contains(r.stdout, first[:8]) || !strings.Contains(r.stdout, "daily,cli") && !strings.Contains(r.stdout, "cli,daily") {
		t.Errorf("snapshots table:\n%s", r.stdout)
	}

	// Refused, usage and failure exits.
	r = restore.run(t, "backup", dir).want(t, 4, "backup with a restore token")
	if !strings.Contains(r.stderr, "restore") {
		t.Errorf("refusal message: %q", r.stderr)
	}
	backup.run(t, "admin", "repo", "create", "other").want(t, 4, "repo create with a backup token")
	other := t.TempDir()
	os.MkdirAll(filepath.Join(other, "sub"), 0o755)
	backup.run(t, "backup", filepath.Join(dir, "sub"), filepath.Join(other, "sub")).want(t, 2, "duplicate base names")
	backup.run(t, "backup").want(t, 2, "no path")
	r = backup.run(t, "backup", dir, "--compression", "lz4").want(t, 2, "unknown compression")
	if !strings.Contains(r.stderr, "lz4") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("unknown compression message: %q", r.stderr)
	}
	backup.run(t, "backup", dir, "--host", "h2", "--compression", "s2").want(t, 0, "backup --compression s2")
	admin.run(t, "admin", "token", "create", "--role", "superuser").want(t, 2, "bad role")
	r = backup.run(t, "backup", filepath.Join(dir, "does-not-exist")).want(t, 1, "missing path")
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("failure message is not one line: %q", r.stderr)
	}
	wrong := backup
	wrong.password = "wrong"
	wrong.run(t, "backup", dir).want(t, 1, "wrong password")
	admin.run(t, "init").want(t, 1, "second init")
}

// TestCLIBackupWrongPassword: the client unwraps the keys (default
// Argon2id) while it lists the files and pins the parent; a wrong
// password must still end the backup with exit 1 and one line saying so,
// commit nothing, and take precedence over a token that may not upload.
// An unchanged backup with the right password reads nothing.
func TestCLIBackupWrongPassword(t *testing.T) {
	srv := newCLIServer(t)
	_, backup, restore := cliSetup(t, srv, "wrongpw")
	dir := t.TempDir()
	for i := range 50 {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(strings.Repeat(strconv.Itoa(i), 1000)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	backup.run(t, "backup", dir).want(t, 0, "first backup")
	summary := func(r cliResult) (s struct {
		BytesRead int64 `json:"bytes_read"`
		FilesNew  int64 `json:"files_new"`
	}) {
		t.Helper()
		if err := json.Unmarshal([]byte(r.lastLine()), &s); err != nil {
			t.Fatalf("summary %q: %v", r.lastLine(), err)
		}
		return s
	}
	if s := summary(backup.run(t, "backup", dir, "--json").want(t, 0, "unchanged backup")); s.BytesRead != 0 {
		t.Fatalf("unchanged backup read %d bytes", s.BytesRead)
	}

	if err := os.WriteFile(filepath.Join(dir, "new"), []byte("new file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, env := range []cliEnv{backup, restore} {
		env.password = "wrong"
		r := env.run(t, "backup", dir).want(t, 1, "backup with a wrong password")
		if msg := strings.TrimSpace(r.stderr); !strings.Contains(msg, "wrong password") || strings.Contains(msg, "\n") || r.stdout != "" {
			t.Errorf("wrong password: stdout %q, stderr %q", r.stdout, r.stderr)
		}
	}
	var snaps []map[string]any
	if err := json.Unmarshal([]byte(restore.run(t, "snapshots", "--json").want(t, 0, "snapshots").stdout), &snaps); err != nil || len(snaps) != 2 {
		t.Fatalf("after the wrong passwords: %d snapshots (%v)", len(snaps), err)
	}
	if s := summary(backup.run(t, "backup", dir, "--json").want(t, 0, "backup after")); s.FilesNew != 1 || s.BytesRead != 8 {
		t.Fatalf("backup after the wrong passwords: %+v", s)
	}
}

// TestCLIBackupUnreadable backs up a directory with a file nobody may read.
// Root reads any file, so when the test runs as root the client runs as
// uid 65534 (nobody), which makes the mode-000 file really unreadable.
// The backup commits without the file, lists it on stderr and exits 3.
func TestCLIBackupUnreadable(t *testing.T) {
	srv := newCLIServer(t)
	_, backup, restore := cliSetup(t, srv, "partial")
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("readable"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("nobody reads this"), 0o000); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		const nobody = 65534
		backup.uid = nobody
		cache := t.TempDir()
		os.Chmod(filepath.Dir(cache), 0o755)
		if err := os.Chown(cache, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		backup.cache = cache
	}
	r := backup.run(t, "backup", dir, "--host", "h").want(t, 3, "backup with an unreadable file")
	if !strings.Contains(r.stderr, secret) || !strings.Contains(r.stderr, "permission denied") {
		t.Errorf("stderr does not list %s: %q", secret, r.stderr)
	}
	id := r.lastLine()
	if !hexID.MatchString(id) {
		t.Fatalf("last line %q is not the snapshot ID", id)
	}
	r = restore.run(t, "snapshots", "--json").want(t, 0, "snapshots")
	if !strings.Contains(r.stdout, id) {
		t.Fatalf("partial snapshot %s not listed: %s", id, r.stdout)
	}
}

// TestCLICompressionCheckedFirst: an unknown codec, from the flag or from
// HOLDFAST_COMPRESSION, is a usage error that names its source, before
// the client tries the server (none listens here).
func TestCLICompressionCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	base := []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "HOLDFAST_SERVER=http://127.0.0.1:1",
		"HOLDFAST_TOKEN=hf_x", "HOLDFAST_REPO=r", "HOLDFAST_PASSWORD=p"}
	for _, c := range []struct {
		args []string
		env  string
		says string
	}{
		{[]string{"backup", dir, "--compression", "lz4"}, "", "--compression: unknown compression \"lz4\""},
		{[]string{"backup", dir}, "HOLDFAST_COMPRESSION=lz4", "HOLDFAST_COMPRESSION: unknown compression \"lz4\""},
	} {
		cmd := exec.Command(cliBinary(t), c.args...)
		cmd.Env = append(slices.Clone(base), c.env)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), c.says) ||
			strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("%v %s: %v, stderr %q; want exit 2 saying %q", c.args, c.env, err, stderr.String(), c.says)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestReplicateCLI drives the holdfast binary: admin repo create --replica,
// admin replicate (exit 0, then 4 with a restore token of the target), and
// admin repo promote.
func TestReplicateCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: builds holdfast and starts two holdfastd processes")
	}
	bin := buildServer(t)
	cli := filepath.Join(t.TempDir(), "holdfast")
	if out, err := exec.Command("go", "build", "-o", cli, "../holdfast").CombinedOutput(); err != nil {
		t.Fatalf("build holdfast: %v\n%s", err, out)
	}
	p := newReplPair(t, bin)
	dir := t.TempDir()
	writeTree(t, dir, 41, 3, 300<<10)
	id := p.backup(t, dir)
	run := func(server, token string, args ...string) (string, int) {
		cmd := exec.Command(cli, args...)
		cmd.Env = append(os.Environ(), "HOLDFAST_SERVER="+server, "HOLDFAST_TOKEN="+token)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), exitCode(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(tokenFile, []byte(p.replToken), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(p.src.url, p.srcAdmin, "admin", "replicate", "--repo", "web", "--to", p.dst.url, "--to-token-file", tokenFile, "--parallel", "2", "--json")
	if code != 0 || !strings.Contains(out, `"message_type":"pass"`) || !strings.Contains(out, id.String()) {
		t.Fatalf("admin replicate: exit %d\n%s", code, out)
	}
	restoreTok := p.dst.token("web", holdfastv1.Role_ROLE_RESTORE)
	writeTree(t, dir, 42, 1, 100<<10)
	p.backup(t, dir)
	out, code = run(p.src.url, p.srcAdmin, "admin", "replicate", "--repo", "web", "--to", p.dst.url, "--to-token", restoreTok)
	if code != 4 || strings.Contains(out, restoreTok) {
		t.Fatalf("replicate with a restore token: exit %d, want 4 without the token in the message\n%s", code, out)
	}
	t.Logf("refused: %s", strings.TrimSpace(out))
	if out, code = run(p.dst.url, p.dst.admin, "admin", "repo", "create", "dr2", "--replica"); code != 0 || !strings.Contains(out, "created replica repository dr2") {
		t.Fatalf("repo create --replica: exit %d\n%s", code, out)
	}
	if out, code = run(p.dst.url, p.dst.admin, "admin", "repo", "promote", "web"); code != 0 {
		t.Fatalf("repo promote: exit %d\n%s", code, out)
	}
	if _, code = run(p.dst.url, p.dst.admin, "admin", "repo", "promote", "nope"); code != 1 {
		t.Fatalf("promote of an absent repository: exit %d, want 1", code)
	}
}

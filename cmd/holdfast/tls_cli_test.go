package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/format/pemca/pemcatest"
)

// TestCLICAFile runs the client against an https server whose certificate
// a private CA signed. With that CA in HOLDFAST_CA_FILE (or --ca-file) a
// backup and a restore work over TLS; without it, or with another CA, the
// client refuses the server and says which setting fixes it; a CA file that
// is not a certificate bundle is a usage error naming the file.
func TestCLICAFile(t *testing.T) {
	dir := t.TempDir()
	certs := pemcatest.New(t, dir)
	srv := newCLIServerTLS(t, certs)
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("server URL %q", srv.url)
	}

	// Not trusted: the system roots do not know the test CA, and a CA file
	// with another CA is no better.
	other := pemcatest.New(t, t.TempDir())
	for _, ca := range []string{"", other.CA} {
		env := cliEnv{server: srv.url, token: srv.admin, repo: "tls", cache: t.TempDir(), ca: ca}
		r := env.run(t, "admin", "repo", "create", "tls").want(t, 1, "untrusted server, CA file "+ca)
		if !strings.Contains(r.stderr, "certificate") || !strings.Contains(r.stderr, "--ca-file") {
			t.Fatalf("untrusted server (CA file %q): stderr %q, want the certificate problem and --ca-file", ca, r.stderr)
		}
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
			t.Fatalf("untrusted server: %d lines of error, want one:\n%s", n+1, r.stderr)
		}
	}

	// Files that are not a CA bundle: usage errors naming the file.
	key := certs.Key
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		garbage:                       "no PEM certificate",
		key:                           `"EC PRIVATE KEY"`,
		filepath.Join(dir, "missing"): "no such file",
		dir:                           "not a regular file",
	} {
		env := cliEnv{server: srv.url, token: srv.admin, repo: "tls", cache: t.TempDir()}
		r := env.run(t, "--ca-file", file, "admin", "repo", "create", "tls").want(t, 2, "--ca-file "+file)
		if !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "not a certificate") {
			t.Fatalf("--ca-file %s: stderr %q, want %q and no file contents", file, r.stderr, want)
		}
	}

	env := cliEnv{server: srv.url, token: srv.admin, repo: "tls", cache: t.TempDir(), ca: certs.CA}
	r := env.run(t, "admin", "replicate", "--to", "https://127.0.0.1:1", "--to-token", "hf_x", "--to-ca-file", garbage).want(t, 2, "--to-ca-file garbage")
	if !strings.Contains(r.stderr, "--to-ca-file") || !strings.Contains(r.stderr, "no PEM certificate") {
		t.Fatalf("--to-ca-file garbage: stderr %q", r.stderr)
	}

	// Trusted: a whole backup and restore over TLS.
	_, backup, restore := cliSetup(t, srv, "tls")
	src := t.TempDir()
	want := bytes.Repeat([]byte("over TLS "), 300_000)
	if err := os.WriteFile(filepath.Join(src, "data"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	backup.run(t, "backup", src).want(t, 0, "backup over TLS")
	target := t.TempDir()
	restore.run(t, "restore", "latest", "--target", target).want(t, 0, "restore over TLS")
	got, err := os.ReadFile(filepath.Join(target, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("restored %d bytes over TLS, want the %d backed up", len(got), len(want))
	}
	// --ca-file does what the variable does.
	flagged := restore
	flagged.ca = ""
	flagged.run(t, "--ca-file", certs.CA, "snapshots").want(t, 0, "snapshots with --ca-file")
}

package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/indexkey"
)

func TestEnsureAdminTokenCreates(t *testing.T) {
	dir := t.TempDir()
	r := openAuthEngine(t, dir)
	tok, created, err := EnsureAdminToken(dir, r)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	path := filepath.Join(dir, AdminTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %#o, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != tok+"\n" {
		t.Fatalf("file holds %q (%v), want the token and a newline", b, err)
	}
	rec, err := r.Index().GetToken(HashToken(tok))
	if err != nil || rec.Repo != 0 || rec.Role != indexkey.RoleAdmin || !rec.Expires.IsZero() || rec.Label != adminTokenLabel {
		t.Fatalf("registered as %+v (%v), want a server-admin token", rec, err)
	}
	p, err := (&authenticator{repo: r, now: time.Now}).authenticate(bearerHeader(tok))
	if err != nil || !p.ServerAdmin() {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("left %s behind", e.Name())
		}
	}

	// Later starts read the same token.
	tok2, created, err := EnsureAdminToken(dir, r)
	if err != nil || created || tok2 != tok {
		t.Fatalf("second start: created=%v err=%v same=%v", created, err, tok2 == tok)
	}
}

func TestEnsureAdminTokenReregisters(t *testing.T) {
	dir := t.TempDir()
	r := openAuthEngine(t, dir)
	tok, _, err := EnsureAdminToken(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	// An index rebuilt without the old one has no tokens.
	b := r.Index().NewBatch()
	b.DeleteToken(HashToken(tok))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	tok2, created, err := EnsureAdminToken(dir, r)
	if err != nil || created || tok2 != tok {
		t.Fatalf("re-register: created=%v err=%v same=%v", created, err, tok2 == tok)
	}
	if rec, err := r.Index().GetToken(HashToken(tok)); err != nil || rec.Repo != 0 || rec.Role != indexkey.RoleAdmin {
		t.Fatalf("after re-register: %+v %v", rec, err)
	}

	// A token file written by hand (surrounding space is trimmed) is
	// registered as it is.
	dir2 := t.TempDir()
	r2 := openAuthEngine(t, dir2)
	own, _, _ := NewToken()
	if err := os.WriteFile(filepath.Join(dir2, AdminTokenFile), []byte("  "+own+"\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, created, err := EnsureAdminToken(dir2, r2)
	if err != nil || created || got != own {
		t.Fatalf("operator's token: created=%v err=%v same=%v", created, err, got == own)
	}
	if _, err := r2.Index().GetToken(HashToken(own)); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureAdminTokenRefuses(t *testing.T) {
	cases := []struct {
		name    string
		content func(t *testing.T, f *authFixture) string
		mode    os.FileMode
		wantErr string
	}{
		{"group readable", validTokenFile, 0o640, "group or others"},
		{"world readable", validTokenFile, 0o604, "group or others"},
		{"group writable", validTokenFile, 0o620, "group or others"},
		{"empty", constTokenFile(""), 0o600, "does not hold a Holdfast token"},
		{"garbage", constTokenFile("password123\n"), 0o600, "does not hold a Holdfast token"},
		{"two tokens", constTokenFile(TokenPrefix + "a " + TokenPrefix + "b"), 0o600, "does not hold a Holdfast token"},
		{"repository token", func(t *testing.T, f *authFixture) string { return f.tokens["backup"] }, 0o600, "not as the server-admin token"},
		{"expired", func(t *testing.T, f *authFixture) string {
			return f.putToken(t, 0, indexkey.RoleAdmin, time.Now().Add(-time.Minute))
		}, 0o600, "expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newAuthFixture(t)
			dir := t.TempDir()
			path := filepath.Join(dir, AdminTokenFile)
			content := c.content(t, f)
			if err := os.WriteFile(path, []byte(content), c.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil { // umask
				t.Fatal(err)
			}
			tok, created, err := EnsureAdminToken(dir, f.eng)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got token=%v created=%v err=%v, want an error about %q", tok != "", created, err, c.wantErr)
			}
			if strings.HasPrefix(content, TokenPrefix) && strings.Contains(err.Error(), content) {
				t.Fatalf("error shows the token: %v", err)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Fatal("the refused file was changed")
			}
		})
	}

	// A directory in the file's place.
	f := newAuthFixture(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, AdminTokenFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureAdminToken(dir, f.eng); err == nil {
		t.Fatal("a directory was accepted as the token file")
	}
}

func validTokenFile(t *testing.T, _ *authFixture) string {
	tok, _, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok + "\n"
}

func constTokenFile(s string) func(*testing.T, *authFixture) string {
	return func(*testing.T, *authFixture) string { return s }
}

func bearerHeader(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

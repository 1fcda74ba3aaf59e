package cafile

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/format/pemca/pemcatest"
)

// TestLoad: a bundle of two CAs trusts both; anything else is refused with
// an error that names the file and never quotes it.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	a, b := pemcatest.New(t, t.TempDir()), pemcatest.New(t, t.TempDir())
	bundle := filepath.Join(dir, "bundle.pem")
	pa, _ := os.ReadFile(a.CA)
	pb, _ := os.ReadFile(b.CA)
	if err := os.WriteFile(bundle, append(append(pa, "comment lines between blocks are fine\n"...), pb...), 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	other := pemcatest.New(t, t.TempDir())
	if !verifies(t, pool, a.Cert) || !verifies(t, pool, b.Cert) || verifies(t, pool, other.Cert) {
		t.Fatal("the pool should trust exactly the bundle's two CAs")
	}

	bad := map[string]string{
		"key":       a.Key,
		"empty":     write(t, dir, "empty", ""),
		"text":      write(t, dir, "text", "secret-looking text\n"),
		"truncated": write(t, dir, "truncated", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		"missing":   filepath.Join(dir, "missing"),
		"directory": dir,
	}
	for name, path := range bad {
		_, err := Load(path)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "CA file") {
			t.Errorf("%s: %v does not name the file", name, err)
		}
		if strings.Contains(err.Error(), "secret-looking") {
			t.Errorf("%s: %v quotes the file", name, err)
		}
	}
}

// verifies reports whether pool verifies the server certificate in
// certFile.
func verifies(t *testing.T, pool *x509.CertPool, certFile string) bool {
	t.Helper()
	raw, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool})
	return err == nil
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExplain: verification failures get the fix appended, typed or only
// as text (as RPC wrappers leave them); a replication error that already
// names ca_file and unrelated errors pass unchanged.
func TestExplain(t *testing.T) {
	typed := fmt.Errorf("dial: %w", x509.UnknownAuthorityError{})
	text := errors.New("create repository x: unavailable: tls: failed to verify certificate: x509: certificate signed by unknown authority")
	for _, err := range []error{typed, text} {
		if got := Explain(err, "--ca-file FILE").Error(); !strings.Contains(got, "--ca-file FILE") {
			t.Errorf("Explain(%v) = %q, want the flag", err, got)
		}
	}
	if got := Explain(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}, "--ca-file").Error(); !strings.Contains(got, "another name") {
		t.Errorf("hostname: %q", got)
	}
	for _, err := range []error{errors.New("connection refused"), errors.New("x509: certificate signed by unknown authority (... ca_file)")} {
		if got := Explain(err, "--ca-file"); got != err {
			t.Errorf("Explain(%v) = %v, want it unchanged", err, got)
		}
	}
}

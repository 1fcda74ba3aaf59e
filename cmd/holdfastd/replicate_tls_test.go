package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/pemca/pemcatest"
)

// TestReplicationToTLSTargetWithCAFile replicates to a target serving https
// with a certificate from a private CA. A one-shot replication, which has
// only the system's roots, fails and says to name the CA in ca_file;
// continuous replication configured with that ca_file delivers the
// snapshot, and so does a one-shot replication that carries the CA
// (target_ca_pem, admin replicate --to-ca-file).
func TestReplicationToTLSTargetWithCAFile(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts holdfastd processes")
	}
	bin := buildServer(t)
	certs := pemcatest.New(t, t.TempDir())
	dst := startSite(t, bin, "--tls-cert", certs.Cert, "--tls-key", certs.Key)
	dst.roots = certs.Pool
	if !strings.HasPrefix(dst.url, "https://") {
		t.Fatalf("target URL %q", dst.url)
	}
	ctx := context.Background()
	if _, err := dst.conn(dst.admin, "").Repos.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: "web"})); err != nil {
		t.Fatal(err)
	}
	if err := dst.setReplica("web", true); err != nil {
		t.Fatal(err)
	}
	p := &replPair{dst: dst, replToken: dst.token("web", holdfastv1.Role_ROLE_REPLICATE)}

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "dr.token")
	if err := os.WriteFile(tokenFile, []byte(p.replToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "replicate.json")
	conf := fmt.Sprintf(`{"targets":[{"repo":"web","url":%q,"token_file":%q,"ca_file":%q,"rescan":"30s","min_backoff":"200ms","max_backoff":"1s"}]}`,
		dst.url, tokenFile, certs.CA)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p.startSource(t, bin, "--replicate-config", cfg)

	data := t.TempDir()
	writeTree(t, data, 31, 4, 256<<10)
	id := p.backup(t, data)
	if !waitFor(30*time.Second, func() bool { return slices.Contains(dst.snapshotIDs(p.replToken, "web"), id) }) {
		t.Fatal("the snapshot did not reach the https target within 30 s (ca_file not used?)")
	}

	// The one-shot RPC names no CA, so the source refuses the target.
	_, err := p.replicate(ctx, &holdfastv1.ReplicateRequest{})
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("one-shot replication to a target with an untrusted certificate: %v, want the certificate problem and ca_file", err)
	}
	if strings.Contains(err.Error(), p.replToken) {
		t.Fatal("the error quotes the target token")
	}
	// With the CA in the request it works; a bundle that is not one is
	// refused before anything is dialed.
	caPEM, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.replicate(ctx, &holdfastv1.ReplicateRequest{TargetCaPem: caPEM}); err != nil {
		t.Fatalf("one-shot replication with target_ca_pem: %v", err)
	}
	keyPEM, _ := os.ReadFile(certs.Key)
	_, err = p.replicate(ctx, &holdfastv1.ReplicateRequest{TargetCaPem: keyPEM})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "target_ca_pem") || strings.Contains(err.Error(), "PRIVATE KEY-----") {
		t.Fatalf("a private key as target_ca_pem: %v, want invalid_argument naming the field and not quoting it", err)
	}
}

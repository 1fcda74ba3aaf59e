package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/pemca/pemcatest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a
// pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	c := pemcatest.New(t, dir)
	return c.Cert, c.Key, c.Pool
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeTLSAndMetrics serves gRPC and Connect over TLS (h2) and
// Prometheus metrics on a second listener.
func TestServeTLSAndMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	metricsAddr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--tls-cert", certFile, "--tls-key", keyFile, "--metrics", metricsAddr)
	url := startCmd(t, cmd)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("TLS server announced %q", url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	for name, opts := range map[string][]connect.ClientOption{"connect": nil, "grpc": {connect.WithGRPC()}} {
		c := holdfastv1connect.NewInfoServiceClient(client, url, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.GetInfo(ctx, connect.NewRequest(&holdfastv1.GetInfoRequest{}))
		cancel()
		if err != nil {
			t.Fatalf("%s over TLS: %v", name, err)
		}
	}
	// Plain HTTP to the TLS port is refused.
	plain := holdfastv1connect.NewInfoServiceClient(http.DefaultClient, "http"+strings.TrimPrefix(url, "https"))
	if _, err := plain.GetInfo(context.Background(), connect.NewRequest(&holdfastv1.GetInfoRequest{})); err == nil {
		t.Fatal("plain HTTP to the TLS listener answered")
	}

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`holdfast_requests_total{procedure="/holdfast.v1.InfoService/GetInfo",code="ok"} 2`,
		"# TYPE holdfast_shard_damage_total counter",
		"holdfast_chunks_deduplicated_total 0",
	} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("metrics lack %q:\n%s", want, body)
		}
	}
}

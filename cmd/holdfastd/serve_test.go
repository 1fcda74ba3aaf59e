package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
)

// buildServer compiles holdfastd once per test binary run.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "holdfastd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build holdfastd: %v\n%s", err, out)
	}
	return bin
}

// startServer runs `holdfastd serve` on a free port and returns its URL once
// it prints its listening line.
func startServer(t *testing.T, bin, data string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0")
	return cmd, startCmd(t, cmd)
}

// startCmd starts a prepared `holdfastd serve` and returns its URL once it
// prints its listening line.
func startCmd(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for lines.Scan() {
		if _, url, ok := strings.Cut(lines.Text(), "listening on "); ok {
			go func() {
				for lines.Scan() {
				}
			}()
			return url
		}
	}
	t.Fatal("holdfastd exited before listening")
	return ""
}

func h2cClient() *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &protocols}}
}

func TestServeAnswersEveryProtocolAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildServer(t)
	data := filepath.Join(t.TempDir(), "data")
	cmd, url := startServer(t, bin, data)

	clients := map[string]holdfastv1connect.InfoServiceClient{
		"connect":  holdfastv1connect.NewInfoServiceClient(http.DefaultClient, url),
		"grpc":     holdfastv1connect.NewInfoServiceClient(h2cClient(), url, connect.WithGRPC()),
		"grpc-web": holdfastv1connect.NewInfoServiceClient(http.DefaultClient, url, connect.WithGRPCWeb()),
	}
	for name, c := range clients {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.GetInfo(ctx, connect.NewRequest(&holdfastv1.GetInfoRequest{}))
		cancel()
		if err != nil {
			t.Fatalf("%s: GetInfo: %v", name, err)
		}
		if resp.Msg.ApiVersion != 1 || resp.Msg.ServerVersion == "" {
			t.Fatalf("%s: GetInfo = %+v", name, resp.Msg)
		}
	}

	// A second server on the same data directory is refused with a clear message.
	out, err := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0").CombinedOutput()
	if code := exitCode(err); code != exitFailure || !strings.Contains(string(out), "in use by another holdfastd") {
		t.Fatalf("second server: exit %d, output %q", code, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v (want exit 0)", err)
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v, mode %v (want 0700)", err, fi.Mode().Perm())
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--no-such-flag"},
		{"serve", "extra-arg"},
		{"serve", "--tls-cert", "only-cert.pem"},
		{"serve", "--gc-grace", "10s"},
		{"serve", "--max-lock", "0s"},
		{"serve", "--max-lock", "ten years"},
	} {
		if code := run(args); code != exitUsage {
			t.Errorf("holdfastd %v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

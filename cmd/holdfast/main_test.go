package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/pemca/pemcatest"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/server"
)

// TestMain removes the client binary the CLI tests build once.
func TestMain(m *testing.M) {
	code := m.Run()
	if cliBin.dir != "" {
		os.RemoveAll(cliBin.dir)
	}
	os.Exit(code)
}

var cliBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// cliBinary builds cmd/holdfast once per test binary, statically as it
// ships (CGO_ENABLED=0), into a directory anyone may read (tests run it
// as another user too).
func cliBinary(t testing.TB) string {
	t.Helper()
	cliBin.once.Do(func() {
		if cliBin.dir, cliBin.err = os.MkdirTemp("", "holdfast-cli-"); cliBin.err != nil {
			return
		}
		os.Chmod(cliBin.dir, 0o755)
		cliBin.path = filepath.Join(cliBin.dir, "holdfast")
		cmd := exec.Command("go", "build", "-o", cliBin.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			cliBin.err = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if cliBin.err != nil {
		t.Fatal(cliBin.err)
	}
	return cliBin.path
}

// cliServer is holdfastd on a loopback listener over local stores.
type cliServer struct {
	url   string
	admin string
	ca    string // the CA file clients need (https servers)
}

func newCLIServer(t testing.TB) *cliServer { return newCLIServerFull(t, server.Options{}, nil) }

// newCLIServerWith is newCLIServer with server options (an injected
// garbage collector, a lock maximum).
func newCLIServerWith(t testing.TB, opts server.Options) *cliServer {
	t.Helper()
	return newCLIServerFull(t, opts, nil)
}

// newCLIServerWrapped is newCLIServer with the API handler wrapped by wrap,
// for tests that watch or hold requests.
func newCLIServerWrapped(t testing.TB, wrap func(http.Handler) http.Handler) *cliServer {
	t.Helper()
	return newCLIServerFull(t, server.Options{}, wrap)
}

func newCLIServerFull(t testing.TB, opts server.Options, wrap func(http.Handler) http.Handler) *cliServer {
	t.Helper()
	return startCLIServer(t, opts, wrap, nil)
}

// newCLIServerTLS is newCLIServer serving https with certs' server
// certificate.
func newCLIServerTLS(t testing.TB, certs pemcatest.Files) *cliServer {
	t.Helper()
	return startCLIServer(t, server.Options{}, nil, &certs)
}

func startCLIServer(t testing.TB, opts server.Options, wrap func(http.Handler) http.Handler, certs *pemcatest.Files) *cliServer {
	t.Helper()
	data := t.TempDir()
	stores := []string{filepath.Join(data, "s0"), filepath.Join(data, "s1"), filepath.Join(data, "s2")}
	layout, err := repo.LoadOrCreateLayout(data, repo.NewLayout(stores, 2, 1), true)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := repo.Open(context.Background(), repo.Config{DataDir: data, Layout: layout})
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
	h := server.New(eng, opts).Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := server.NewHTTPServer(h, slog.New(slog.DiscardHandler))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	scheme, cert, key := "http://", "", ""
	if certs != nil {
		scheme, cert, key = "https://", certs.Cert, certs.Key
	}
	go func() { done <- server.Serve(ctx, hs, ln, cert, key) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	srv := &cliServer{url: scheme + ln.Addr().String(), admin: admin}
	if certs != nil {
		srv.ca = certs.CA
	}
	return srv
}

// cliResult is one run of the binary.
type cliResult struct {
	code           int
	stdout, stderr string
	maxRSS         int64 // peak resident set of the child, bytes (VmHWM, sampled every 10 ms)
}

// lastLine returns the last line of stdout.
func (r cliResult) lastLine() string {
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	return lines[len(lines)-1]
}

// cliEnv is the environment of a run: the connection variables and a
// private cache directory.
type cliEnv struct {
	server, token, repo, password, cache string
	ca                                   string // HOLDFAST_CA_FILE, if set
	uid                                  int    // run as this user when > 0 (tests running as root)
}

func (e cliEnv) run(t testing.TB, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(cliBinary(t), args...)
	cmd.Env = e.environ()
	if e.uid > 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uid), Gid: uint32(e.uid)}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("run holdfast %v: %v", args, err)
	}
	// getrusage's ru_maxrss of a child started from this (large) test
	// process includes the parent's memory: Go starts children with
	// CLONE_VM, and exec keeps the high-water mark of the shared mm. The
	// child's own mm reports its peak as VmHWM, so poll that.
	stopPoll := make(chan struct{})
	var peak atomic.Int64
	var polled sync.WaitGroup
	polled.Go(func() {
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if hwm := vmHWM(status); hwm > peak.Load() {
				peak.Store(hwm)
			}
			select {
			case <-stopPoll:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	err := cmd.Wait()
	close(stopPoll)
	polled.Wait()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String(), maxRSS: peak.Load()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run holdfast %v: %v", args, err)
	}
	return res
}

// environ is the environment of a run (DOCKER_HOST passes through).
func (e cliEnv) environ() []string {
	env := []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + e.cache,
		"XDG_CACHE_HOME=" + e.cache,
		"HOLDFAST_SERVER=" + e.server,
		"HOLDFAST_TOKEN=" + e.token,
		"HOLDFAST_REPO=" + e.repo,
		"HOLDFAST_PASSWORD=" + e.password,
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = append(env, "DOCKER_HOST="+h)
	}
	if e.ca != "" {
		env = append(env, "HOLDFAST_CA_FILE="+e.ca)
	}
	return env
}

// vmHWM reads the peak resident set ("VmHWM: N kB") from a status file,
// or 0 once the process is gone.
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// want fails unless the run exited with code.
func (r cliResult) want(t testing.TB, code int, what string) cliResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
	return r
}

// snapshotsJSON lists the repository's snapshots through the CLI.
func snapshotsJSON(t *testing.T, e cliEnv) []snapshotJSON {
	t.Helper()
	r := e.run(t, "snapshots", "--json").want(t, 0, "snapshots --json")
	var out []snapshotJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("snapshots --json: %v\n%s", err, r.stdout)
	}
	return out
}

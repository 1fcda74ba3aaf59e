package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Options adjusts the server. The zero value is fine.
type Options struct {
	// NoVersioning runs the server without a versioning directory; buckets
	// then cannot have Object Lock.
	NoVersioning bool
	// StartTimeout bounds the wait for the server to answer (default 30s).
	StartTimeout time.Duration
}

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's URL, "http://127.0.0.1:PORT".
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	logPath string
	buckets atomic.Int64
}

// Start starts a server for the test and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := binary(t)
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	dir := t.TempDir()
	s := &Server{AccessKey: "holdfast-test", SecretKey: randomHex(16), Region: "us-east-1"}
	data := filepath.Join(dir, "data")
	versions := filepath.Join(dir, "versions")
	for _, d := range []string{data, versions} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("s3test: %v", err)
		}
	}
	// A port picked by closing a listener can be taken again before the
	// server binds it; try a few.
	var lastErr error
	for attempt := range 3 {
		s.logPath = filepath.Join(dir, fmt.Sprintf("versitygw-%d.log", attempt))
		lastErr = s.start(bin, data, versions, opts)
		if lastErr == nil {
			t.Cleanup(func() {
				s.stop()
				if t.Failed() {
					t.Logf("s3test: versitygw log:\n%s", s.logTail())
				}
			})
			return s
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("s3test: start versitygw: %v", lastErr)
	return nil
}

func (s *Server) start(bin, data, versions string, opts Options) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"--port", addr, "--quiet", "posix"}
	if !opts.NoVersioning {
		args = append(args, "--versioning-dir", versions)
	}
	args = append(args, data)
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TMPDIR=" + os.TempDir(),
		"ROOT_ACCESS_KEY_ID=" + s.AccessKey,
		"ROOT_SECRET_ACCESS_KEY=" + s.SecretKey,
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.done, s.Endpoint = cmd, make(chan struct{}), "http://"+addr
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(opts.StartTimeout); err != nil {
		s.stop()
		return fmt.Errorf("%v; log:\n%s", err, s.logTail())
	}
	return nil
}

// waitReady polls until the server answers HTTP (any status: without
// credentials it says AccessDenied).
func (s *Server) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("versitygw exited: %v", s.cmd.ProcessState)
		default:
		}
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not answer within %v", timeout)
}

// stop sends SIGTERM to the server's process, and SIGKILL if it has not
// exited within five seconds.
func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *Server) logTail() string {
	data, _ := os.ReadFile(s.logPath)
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	return string(bytes.TrimSpace(data))
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// context for helper calls that a test does not otherwise bound.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Server is a running holdfastd.
type Server struct {
	URL   string // http://127.0.0.1:PORT
	Admin string // server-admin token
	Data  string // data directory
	cmd   *exec.Cmd
	peak  *peakWatcher
	done  chan error
	log   *os.File
}

// StartServer runs `holdfastd serve` on a free loopback port with data as
// its data directory (created fresh, one local store, default shards) and
// waits until it listens. Its stderr goes to data/../holdfastd.log.
func StartServer(ctx context.Context, bins Binaries, data string, extra ...string) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	logf, err := os.Create(filepath.Join(filepath.Dir(data), "holdfastd.log"))
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	args := append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bins.Server, args...)
	cmd.Stdout = logf
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("harness: start holdfastd: %w", err)
	}
	s := &Server{Data: data, cmd: cmd, peak: watchPeak(cmd.Process.Pid), done: make(chan error, 1), log: logf}
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	urls := make(chan string, 1)
	go func() { // copy stderr to the log, picking up the URL line
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "holdfastd listening on "); ok {
				select {
				case urls <- strings.TrimSpace(u):
				default:
				}
			}
			fmt.Fprintln(logf, line)
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case s.URL = <-urls:
	case err := <-s.done:
		return nil, fmt.Errorf("harness: holdfastd exited before listening (%v); see %s", err, logf.Name())
	case <-time.After(60 * time.Second):
		s.Stop()
		return nil, errors.New("harness: holdfastd did not start listening within 60 s")
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("harness: read admin token: %w", err)
	}
	s.Admin = strings.TrimSpace(string(tok))
	return s, nil
}

// PID is the server's process ID (for profilers).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// CPU returns the user + system time the server has used so far.
func (s *Server) CPU() time.Duration { return CPUTime(s.PID()) }

// MinorFaults returns the minor page faults the server has taken so far.
func (s *Server) MinorFaults() int64 { return MinorFaults(s.PID()) }

// ResetPeak starts a new peak RSS measurement.
func (s *Server) ResetPeak() error { return s.peak.reset() }

// Peak returns the server's peak RSS since start or the last ResetPeak.
func (s *Server) Peak() int64 { return s.peak.Peak() }

// Stop sends SIGTERM, waits up to 60 s for a clean exit (then SIGKILL) and
// returns the exit error, if any.
func (s *Server) Stop() error {
	defer s.log.Close()
	defer s.peak.close()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		return fmt.Errorf("harness: holdfastd did not stop on SIGTERM: %v", <-s.done)
	}
}

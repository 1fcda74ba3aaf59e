package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is one real `holdfastd serve` process over a data directory; it
// can be killed and restarted on the same data.
type daemon struct {
	t    *testing.T
	bin  string
	data string
	args []string // layout flags, given on every start (they must agree)

	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when cmd has been waited for
	logs *tail
}

func newDaemon(t *testing.T, data string, args ...string) *daemon {
	bin, _ := binaries(t)
	d := &daemon{t: t, bin: bin, data: data, args: args}
	t.Cleanup(func() {
		if d.cmd != nil {
			d.kill9()
		}
	})
	return d
}

// start runs the server on a free loopback port and waits until it
// listens.
func (d *daemon) start() {
	t := d.t
	t.Helper()
	if d.cmd != nil {
		t.Fatal("holdfastd is already running")
	}
	args := append([]string{"serve", "--data", d.data, "--listen", "127.0.0.1:0"}, d.args...)
	cmd := exec.Command(d.bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.cmd, d.done, d.logs = cmd, make(chan struct{}), &tail{}
	lines := bufio.NewScanner(stderr)
	url := make(chan string, 1)
	go func() {
		for lines.Scan() {
			d.logs.add(lines.Text())
			if _, u, ok := strings.Cut(lines.Text(), "listening on "); ok {
				url <- u
			}
		}
		cmd.Wait()
		close(d.done)
	}()
	select {
	case d.url = <-url:
	case <-d.done:
		d.cmd = nil
		t.Fatalf("holdfastd exited before listening:\n%s", d.logs)
	case <-time.After(60 * time.Second):
		d.kill9()
		t.Fatalf("holdfastd did not listen within 60 s:\n%s", d.logs)
	}
}

// kill9 SIGKILLs the server and waits for it to be gone.
func (d *daemon) kill9() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	d.cmd = nil
}

// stop SIGTERMs the server and expects a clean exit 0.
func (d *daemon) stop() {
	t := d.t
	t.Helper()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.kill9()
		t.Fatal("holdfastd did not stop within 60 s of SIGTERM")
	}
	code := d.cmd.ProcessState.ExitCode()
	d.cmd = nil
	if code != 0 {
		t.Fatalf("holdfastd exited %d after SIGTERM:\n%s", code, d.logs)
	}
}

// adminToken reads the server-admin token the first start wrote.
func (d *daemon) adminToken() string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.data, "admin.token"))
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// offline runs a maintenance command (scrub, rebuild-index) with the server
// stopped and returns its stdout and exit code.
func (d *daemon) offline(args ...string) (string, int) {
	d.t.Helper()
	if d.cmd != nil {
		d.t.Fatal("offline command with the server running")
	}
	cmd := exec.Command(d.bin, append(append(args[:1:1], "--data", d.data), args[1:]...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		d.t.Fatalf("holdfastd %v: %v", args, err)
	}
	if code != 0 {
		d.t.Logf("holdfastd %v: exit %d: %s", args, code, stderr.String())
	}
	return string(out), code
}

// tail keeps the last lines of a process's stderr for failure messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (l *tail) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines = append(l.lines, s); len(l.lines) > 20 {
		l.lines = l.lines[1:]
	}
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// client runs the holdfast binary with one token against a daemon.
type client struct {
	t     *testing.T
	bin   string
	d     *daemon
	token string
	repo  string
	home  string // HOME and XDG_CACHE_HOME: the client's cache
}

// result is one finished run of the client.
type result struct {
	code           int
	stdout, stderr string
}

// lastLine is the last line of stdout (backup prints the snapshot ID there).
func (r result) lastLine() string {
	s := strings.TrimRight(r.stdout, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %s, stderr %s", r.code, quote(r.stdout), quote(r.stderr))
}

func quote(s string) string {
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return "\"" + strings.TrimSpace(s) + "\""
}

// command prepares a run; the server URL is the daemon's current one.
func (c *client) command(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + c.home, "XDG_CACHE_HOME=" + c.home,
		"HOLDFAST_SERVER=" + c.d.url, "HOLDFAST_TOKEN=" + c.token,
		"HOLDFAST_REPO=" + c.repo, "HOLDFAST_PASSWORD=" + chaosPassword,
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs the client to completion (at most 5 minutes).
func (c *client) run(args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd, stdout, stderr := c.command(ctx, args...)
	return finish(c.t, cmd.Run(), stdout, stderr)
}

// finish turns a run's error into a result; only exit codes are expected.
func finish(t *testing.T, err error, stdout, stderr *bytes.Buffer) result {
	t.Helper()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run holdfast: %v", err)
	}
	return res
}

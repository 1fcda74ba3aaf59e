package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Client runs holdfast commands against one repository.
type Client struct {
	Bin                                  string
	Server, Token, Repo, Password, Cache string
	// Extra are more environment variables, NAME=value (for example
	// HOLDFAST_COMPRESSION).
	Extra []string
	// OnStart, if set, is called with each command's PID once it runs
	// (to attach a profiler).
	OnStart func(pid int)
}

// Result is one finished command.
type Result struct {
	Code           int
	Stdout, Stderr string
	Duration       time.Duration // start to exit
	PeakRSS        int64         // VmHWM, bytes
	CPU            time.Duration // user + system time of the process
	MinorFaults    int64         // minor page faults of the process
}

// Run runs holdfast with args and waits for it.
func (c Client) Run(ctx context.Context, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = c.Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("harness: start holdfast: %w", err)
	}
	peak := watchPeak(cmd.Process.Pid)
	if c.OnStart != nil {
		c.OnStart(cmd.Process.Pid)
	}
	err := cmd.Wait()
	res := Result{Duration: time.Since(start), PeakRSS: peak.close(), Stdout: stdout.String(), Stderr: stderr.String()}
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.MinorFaults = ru.Minflt
		}
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Code = exit.ExitCode()
	case err != nil:
		return res, fmt.Errorf("harness: holdfast %s: %w", args[0], err)
	}
	return res, nil
}

// Must runs holdfast and fails unless it exits 0.
func (c Client) Must(ctx context.Context, args ...string) (Result, error) {
	r, err := c.Run(ctx, args...)
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("harness: holdfast %s: exit %d: %s", strings.Join(args, " "), r.Code, strings.TrimSpace(r.Stderr))
	}
	return r, err
}

// Repo is a repository set up for a benchmark: a client per role.
type Repo struct {
	Admin, Backup, Restore Client
}

// SetupRepo creates repository name on s, a token per role and the
// repository keys (init), with cache as the clients' cache directory.
func SetupRepo(ctx context.Context, bins Binaries, s *Server, name, password, cache string) (Repo, error) {
	base := Client{Bin: bins.Client, Server: s.URL, Token: s.Admin, Repo: name, Password: password, Cache: cache}
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return Repo{}, fmt.Errorf("harness: %w", err)
	}
	if _, err := base.Must(ctx, "admin", "repo", "create", name); err != nil {
		return Repo{}, err
	}
	token := func(role string) (string, error) {
		r, err := base.Must(ctx, "admin", "token", "create", "--repo", name, "--role", role, "--ttl", "24h")
		return strings.TrimSpace(r.Stdout), err
	}
	rp := Repo{Admin: base, Backup: base, Restore: base}
	var err error
	if rp.Admin.Token, err = token("admin"); err != nil {
		return Repo{}, err
	}
	if rp.Backup.Token, err = token("backup"); err != nil {
		return Repo{}, err
	}
	if rp.Restore.Token, err = token("restore"); err != nil {
		return Repo{}, err
	}
	if _, err := rp.Admin.Must(ctx, "init"); err != nil {
		return Repo{}, err
	}
	return rp, nil
}

// Summary is the JSON summary line of `holdfast backup --json`.
type Summary struct {
	SnapshotID      string  `json:"snapshot_id"`
	FilesNew        int64   `json:"files_new"`
	FilesChanged    int64   `json:"files_changed"`
	FilesUnmodified int64   `json:"files_unmodified"`
	BytesRead       int64   `json:"bytes_read"`
	BytesAdded      int64   `json:"bytes_added"`
	BytesUploaded   int64   `json:"bytes_uploaded"`
	Size            int64   `json:"size"`
	DurationS       float64 `json:"duration_s"`
	Errors          int64   `json:"errors"`
}

// ParseSummary reads the summary from the last line of a backup's stdout.
func ParseSummary(stdout string) (Summary, error) {
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	var s Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		return s, fmt.Errorf("harness: backup summary: %w", err)
	}
	return s, nil
}

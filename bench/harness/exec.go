package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Proc is a process to run and measure: any program, not only holdfast
// (the e2e suite also runs `holdfastd scrub` this way).
type Proc struct {
	Bin  string
	Args []string
	Env  []string // nil: PATH alone
	// Stdout receives the standard output; nil captures it into
	// Result.Stdout. Give an *os.File (e.g. /dev/null) to let the child
	// write to it directly, with no pipe through this process.
	Stdout io.Writer
}

// Exec runs p, waits for it and returns its exit code, wall time and peak
// RSS (VmHWM sampled while it runs). A non-zero exit is a Result, not an
// error; an error means the process could not be run.
func Exec(ctx context.Context, p Proc) (Result, error) {
	cmd := exec.CommandContext(ctx, p.Bin, p.Args...)
	cmd.Env = p.Env
	if cmd.Env == nil {
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = p.Stdout, &stderr
	if p.Stdout == nil {
		cmd.Stdout = &stdout
	}
	name := filepath.Base(p.Bin)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("harness: start %s: %w", name, err)
	}
	peak := watchPeak(cmd.Process.Pid)
	err := cmd.Wait()
	res := Result{Duration: time.Since(start), PeakRSS: peak.close(), Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Code = exit.ExitCode()
	case err != nil:
		return res, fmt.Errorf("harness: %s %s: %w", name, strings.Join(p.Args, " "), err)
	}
	return res, nil
}

// Env is the environment Client.Run gives holdfast: the connection and
// password variables, the cache directory as HOME, and Extra.
func (c Client) Env() []string {
	return append([]string{
		"PATH=/usr/bin:/bin",
		"HOME=" + c.Cache,
		"XDG_CACHE_HOME=" + c.Cache,
		"HOLDFAST_SERVER=" + c.Server,
		"HOLDFAST_TOKEN=" + c.Token,
		"HOLDFAST_REPO=" + c.Repo,
		"HOLDFAST_PASSWORD=" + c.Password,
	}, c.Extra...)
}

// RunTo runs holdfast with args like Run, with its standard output going
// to stdout instead of memory (for `dump` of gigabytes).
func (c Client) RunTo(ctx context.Context, stdout io.Writer, args ...string) (Result, error) {
	return Exec(ctx, Proc{Bin: c.Bin, Args: args, Env: c.Env(), Stdout: stdout})
}

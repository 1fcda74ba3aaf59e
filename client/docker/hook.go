package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultHookTimeout bounds a hook when the caller sets no timeout.
const DefaultHookTimeout = 5 * time.Minute

// Hook is one command run before or after a backup.
type Hook struct {
	Flag    string        // how the user named it, for messages: "--hook-before"
	Command string        // "" means no hook
	Timeout time.Duration // 0 means DefaultHookTimeout
	Env     []string      // added to the environment, KEY=VALUE
	Output  io.Writer     // the command's stdout and stderr; nil discards
}

// secretEnv are variables a hook never inherits: it has no business with
// the repository's password or token.
var secretEnv = []string{"HOLDFAST_PASSWORD", "HOLDFAST_TOKEN"}

// Run runs the hook and waits for it. The command goes to `sh -c` when a
// shell is on PATH; otherwise (a scratch image) it is split on white
// space and run directly, with no quoting, globbing or expansion. When the
// timeout passes, or ctx ends, the hook's process group is killed. The
// error names the hook by its flag and says how it ended, never the
// command (it may hold credentials).
func (h Hook) Run(ctx context.Context) error {
	if strings.TrimSpace(h.Command) == "" {
		return nil
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd, err := h.command(ctx)
	if err != nil {
		return err
	}
	err = cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s %w: timed out after %s", h.Flag, ErrHook, timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s %w: %w", h.Flag, ErrHook, ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%s %w: %s", h.Flag, ErrHook, exit.ProcessState)
	}
	return fmt.Errorf("%s %w: %w", h.Flag, ErrHook, err)
}

func (h Hook) command(ctx context.Context) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if sh, err := exec.LookPath("sh"); err == nil {
		cmd = exec.CommandContext(ctx, sh, "-c", h.Command)
	} else {
		words := strings.Fields(h.Command)
		prog, err := exec.LookPath(words[0])
		if err != nil {
			return nil, fmt.Errorf("%s %w: no shell here, and its first word is not a program on PATH", h.Flag, ErrHook)
		}
		cmd = exec.CommandContext(ctx, prog, words[1:]...)
	}
	cmd.Env = append(hookEnv(), h.Env...)
	cmd.Stdin = nil
	out := h.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a timeout also ends what `sh -c` started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

func hookEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		secret := false
		for _, s := range secretEnv {
			secret = secret || k == s
		}
		if !secret {
			out = append(out, kv)
		}
	}
	return out
}

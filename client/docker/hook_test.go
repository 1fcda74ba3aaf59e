package docker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHookRun: output and environment (no secrets), the exit status in the
// error, the timeout killing the whole process group, and the no-shell
// fallback that runs the words directly.
func TestHookRun(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("SKIP: no /bin/sh for the hook tests")
	}
	t.Setenv("HOLDFAST_PASSWORD", "secret-pw")
	t.Setenv("HOLDFAST_TOKEN", "secret-token")
	var out bytes.Buffer
	h := Hook{Flag: "--hook-before", Command: `echo "$X/$HOLDFAST_PASSWORD/$HOLDFAST_TOKEN"; exit 0`, Env: []string{"X=given"}, Output: &out}
	if err := h.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "given//\n" {
		t.Errorf("hook saw %q: want its variable and no secrets", out.String())
	}

	h = Hook{Flag: "--hook-after", Command: "exit 7"}
	err := h.Run(context.Background())
	if !errors.Is(err, ErrHook) || err.Error() != "--hook-after hook failed: exit status 7" {
		t.Errorf("exit 7: %v", err)
	}

	// The grandchild keeps the pipe open unless the group is killed.
	start := time.Now()
	h = Hook{Flag: "--hook-before", Command: "sleep 30 & sleep 30", Timeout: 300 * time.Millisecond, Output: &bytes.Buffer{}}
	err = h.Run(context.Background())
	if !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("timeout: %v", err)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("timeout took %s: the hook's children were not killed", el)
	}

	dir := t.TempDir()
	script := filepath.Join(dir, "record")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" > \"$OUT\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir) // no sh on PATH: words run directly
	outFile := filepath.Join(dir, "args")
	h = Hook{Flag: "--hook-before", Command: "record  a 'b c'", Env: []string{"OUT=" + outFile}}
	if err := h.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outFile); string(b) != "a 'b c'\n" {
		t.Errorf("direct run got args %q, want the words split on spaces, unquoted", b)
	}
	h.Command = "missing-program x"
	if err := h.Run(context.Background()); !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), "no shell") {
		t.Errorf("missing program: %v", err)
	}
}

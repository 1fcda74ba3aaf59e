package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the paths of the two programs under test.
type Binaries struct {
	Client string // holdfast
	Server string // holdfastd
}

// Build compiles cmd/holdfast and cmd/holdfastd of the module that holds
// the working directory into dir, statically as they ship (CGO_ENABLED=0).
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return Binaries{}, err
	}
	bins := Binaries{Client: filepath.Join(dir, "holdfast"), Server: filepath.Join(dir, "holdfastd")}
	for out, pkg := range map[string]string{bins.Client: "./cmd/holdfast", bins.Server: "./cmd/holdfastd"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("harness: go build %s: %v\n%s", pkg, err, b)
		}
	}
	return bins, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("harness: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("harness: run from inside the holdfast module")
	}
	return filepath.Dir(mod), nil
}

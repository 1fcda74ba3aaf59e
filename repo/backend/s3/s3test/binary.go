package s3test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// EnvBinary names the environment variable that overrides the versitygw
// binary's path.
const EnvBinary = "HOLDFAST_VERSITYGW"

const (
	modulePath     = "github.com/holdfast-backup/holdfast"
	installCommand = "scripts/install-versitygw.sh"
)

// binary returns the versitygw binary's path, or skips (fails under CI) the
// test when there is none.
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("s3test: %s=%s: %v", EnvBinary, p, err)
		}
		return p
	}
	root, err := moduleRoot()
	if err == nil {
		p := filepath.Join(root, ".tools", "bin", "versitygw")
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("s3test: versitygw not installed (%v); run %s (CI must not skip S3 tests)", err, installCommand)
	}
	t.Skipf("SKIP: versitygw not installed; run %s", installCommand)
	return ""
}

// moduleRoot walks up from the working directory (a test's package
// directory) to the go.mod of this module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root not found")
		}
		dir = parent
	}
}

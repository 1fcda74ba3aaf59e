// Command dockerprog is the program of the Docker tests' image (built FROM
// scratch, so static): "write DIR" fills DIR with deterministic data of
// every common kind, "serve" then stays up until killed.
//
//	dockerprog write DIR [serve]
//	dockerprog serve
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) >= 2 && args[0] == "write" {
		if err := write(args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "dockerprog:", err)
			os.Exit(1)
		}
		args = args[2:]
	}
	if len(args) == 1 && args[0] == "serve" {
		// PID 1 gets no default signal handlers: stop on TERM and INT.
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
	}
}

func write(dir string) error {
	files := []struct {
		name     string
		data     []byte
		mode     os.FileMode
		uid, gid int
	}{
		{"small.txt", []byte("hello from a container\n"), 0o644, 0, 0},
		{"sub/deep/blob.bin", pseudoRandom(1, 3<<20), 0o600, 0, 0},
		{"sub/mode640", []byte("owned by 1000\n"), 0o640, 1000, 1000},
		{"empty-file", nil, 0o444, 0, 0},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
		if err := os.Chown(p, f.uid, f.gid); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty-dir"), 0o700); err != nil {
		return err
	}
	if err := os.Symlink("sub/deep/blob.bin", filepath.Join(dir, "link")); err != nil {
		return err
	}
	// A root that is not root's 0755, as a database's data directory.
	if err := os.Chown(dir, 999, 999); err != nil {
		return err
	}
	return os.Chmod(dir, 0o750)
}

// pseudoRandom is n bytes of xorshift64 from seed: incompressible and the
// same on every run.
func pseudoRandom(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

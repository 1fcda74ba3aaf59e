package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerT is the Docker side of a test: a reachable engine, a test image
// built FROM scratch around a static Go program (nothing is pulled), and
// names with a unique prefix. Every object the test creates is removed in
// t.Cleanup; nothing else is touched.
type dockerT struct {
	t      *testing.T
	prefix string
	image  string
}

// newDockerT skips the test, with a SKIP line saying why, when there is no
// docker CLI or no engine, or when volumes' data is not visible here.
func newDockerT(t *testing.T) *dockerT {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("SKIP: docker CLI not found on PATH; Docker tests need a Docker Engine")
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput(); err != nil {
		t.Skipf("SKIP: no Docker Engine reachable: %s", strings.TrimSpace(string(out)))
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIP: Docker tests read volumes under /var/lib/docker and need root")
	}
	var b [4]byte
	rand.Read(b[:])
	d := &dockerT{t: t, prefix: "hfdt-" + hex.EncodeToString(b[:]) + "-"}
	d.buildImage()
	return d
}

// docker runs the docker CLI and returns its trimmed stdout.
func (d *dockerT) docker(args ...string) string {
	d.t.Helper()
	out, err := d.try(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (d *dockerT) try(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// name returns a unique name for an object; cleanup registers its removal
// (kind "volume", "container" or "image"), which also covers objects the
// code under test creates under that name.
func (d *dockerT) name(kind, base string) string {
	n := d.prefix + base
	d.cleanup(kind, n)
	return n
}

func (d *dockerT) cleanup(kind, name string) {
	d.t.Cleanup(func() {
		var args []string
		switch kind {
		case "container":
			args = []string{"rm", "-f", "-v", name}
		case "volume":
			args = []string{"volume", "rm", "-f", name}
		case "image":
			args = []string{"rmi", "-f", name}
		}
		if out, err := d.try(args...); err != nil && !strings.Contains(err.Error(), "No such") && !strings.Contains(err.Error(), "no such") {
			d.t.Logf("cleanup docker %s: %v %s", strings.Join(args, " "), err, out)
		}
	})
}

// buildImage compiles testdata/dockerprog statically and builds an image
// FROM scratch holding it as /prog.
func (d *dockerT) buildImage() {
	d.t.Helper()
	ctxDir := d.t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(ctxDir, "prog"), "./testdata/dockerprog")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		d.t.Fatalf("build test program: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY prog /prog\nENTRYPOINT [\"/prog\"]\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		d.t.Fatal(err)
	}
	d.image = d.name("image", "prog") + ":test"
	d.cleanup("image", d.image)
	d.docker("build", "-q", "-t", d.image, ctxDir)
}

// volume creates a volume filled by the test program and returns its name
// and mount point.
func (d *dockerT) filledVolume(base string) (name, mountpoint string) {
	d.t.Helper()
	name = d.name("volume", base)
	d.docker("volume", "create", name)
	d.docker("run", "--rm", "-v", name+":/data", d.image, "write", "/data")
	return name, d.mountpoint(name)
}

func (d *dockerT) mountpoint(volume string) string {
	d.t.Helper()
	mp := d.docker("volume", "inspect", "-f", "{{.Mountpoint}}", volume)
	if _, err := os.Stat(mp); err != nil {
		d.t.Skipf("SKIP: volume data at %s is not visible to the test (remote DOCKER_HOST?): %v", mp, err)
	}
	return mp
}

// state returns a container's State.Status (running, paused, exited...).
func (d *dockerT) state(container string) string {
	d.t.Helper()
	return d.docker("inspect", "-f", "{{.State.Status}}", container)
}

// describeTree maps every entry below dir ("." for dir itself) to its
// type, mode, owner, size, content hash or link target, for comparing two
// trees.
func describeTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%s %d:%d", fi.Mode(), st.Uid, st.Gid)
		if rel != "." { // a docker-volume snapshot keeps no root mtime
			desc += " " + fi.ModTime().UTC().Format(time.RFC3339Nano)
		}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d %x", len(b), sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails the test with the differences of two descriptions.
func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing %s (%s)", k, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra %s (%s)", k, g))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("%s differs:\n%s", what, strings.Join(diffs, "\n"))
	}
	if len(want) < 4 {
		t.Fatalf("%s: only %d entries compared; the fixture did not write its data", what, len(want))
	}
}

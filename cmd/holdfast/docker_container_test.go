package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ctrFixture is a running container with a named volume the test program
// filled and a read-only bind mount of a host directory.
type ctrFixture struct {
	name, volume, bind string
	wantVol, wantBind  map[string]string
}

func newCtrFixture(t *testing.T, d *dockerT) *ctrFixture {
	t.Helper()
	// Cleanups run last first: the container goes before its volume.
	f := &ctrFixture{volume: d.name("volume", "appdata"), bind: t.TempDir()}
	f.name = d.name("container", "app")
	for name, data := range map[string]string{"app.conf": "listen 8080\n", "certs/ca.pem": "not a real cert\n"} {
		p := filepath.Join(f.bind, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d.docker("volume", "create", f.volume)
	d.docker("run", "-d", "--name", f.name, "-v", f.volume+":/var/lib/app", "-v", f.bind+":/etc/app:ro",
		d.image, "write", "/var/lib/app", "serve")
	mp := d.mountpoint(f.volume)
	// The program chmods the volume's root last: wait for that.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fi, err := os.Stat(mp); err == nil && fi.Mode().Perm() == 0o750 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not write its data; logs:\n%s", d.docker("logs", f.name))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := d.state(f.name); st != "running" {
		t.Fatalf("container %s is %s", f.name, st)
	}
	f.wantVol, f.wantBind = describeTree(t, mp), describeTree(t, f.bind)
	return f
}

// TestDockerContainer backs up a running container with --pause: the
// snapshot holds its inspect JSON and both mounts at their destinations,
// the engine saw one pause and one unpause and the container runs
// afterwards; ls and dump read the layout; restore --target gives both
// mounts back byte for byte, and restore --docker-volume takes one mount
// (named with --include) into a new volume.
func TestDockerContainer(t *testing.T) {
	d := newDockerT(t)
	srv := newCLIServer(t)
	admin, backup, _ := cliSetup(t, srv, "dockerctr")
	f := newCtrFixture(t, d)

	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	r := backup.run(t, "backup", "--docker-container", f.name, "--pause").want(t, 0, "backup --docker-container --pause")
	id := r.lastLine()
	if st := d.state(f.name); st != "running" {
		t.Fatalf("after the backup the container is %s, want running", st)
	}
	if !strings.Contains(r.stderr, "paused "+f.name) || !strings.Contains(r.stderr, "unpaused "+f.name) {
		t.Errorf("stderr does not report the pause: %q", r.stderr)
	}
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	events := d.docker("events", "--since", since, "--until", until, "--filter", "container="+f.name,
		"--filter", "event=pause", "--filter", "event=unpause", "--format", "{{.Action}}")
	if events != "pause\nunpause" {
		t.Errorf("engine events %q, want one pause then one unpause", events)
	}

	var paths []string
	for line := range strings.Lines(admin.run(t, "ls", id, "--json").want(t, 0, "ls").stdout) {
		var e struct{ Path string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("ls --json line %q: %v", line, err)
		}
		paths = append(paths, e.Path)
	}
	for _, p := range []string{"/container.json", "/mounts/var/lib/app/sub/deep/blob.bin", "/mounts/etc/app/certs/ca.pem"} {
		if !slices.Contains(paths, p) {
			t.Errorf("ls lacks %s; it lists %q", p, paths)
		}
	}
	var inspect struct {
		ID, Name string
		Mounts   []struct{ Destination string }
	}
	js := admin.run(t, "dump", id, "/container.json").want(t, 0, "dump /container.json").stdout
	if err := json.Unmarshal([]byte(js), &inspect); err != nil || inspect.Name != "/"+f.name || len(inspect.Mounts) != 2 {
		t.Fatalf("container.json: %v, name %q, %d mounts", err, inspect.Name, len(inspect.Mounts))
	}

	dir := t.TempDir()
	admin.run(t, "restore", id, "--target", dir).want(t, 0, "restore --target")
	sameTree(t, "restored volume mount", describeTree(t, filepath.Join(dir, "mounts/var/lib/app")), f.wantVol)
	sameTree(t, "restored bind mount", describeTree(t, filepath.Join(dir, "mounts/etc/app")), f.wantBind)

	vol := d.name("volume", "one-mount")
	r = admin.run(t, "restore", id, "--docker-volume", vol).want(t, 2, "restore a two-mount container into a volume")
	if !strings.Contains(r.stderr, "/mounts/etc/app, /mounts/var/lib/app") {
		t.Errorf("the error should list the mounts: %q", r.stderr)
	}
	admin.run(t, "restore", id, "--docker-volume", vol, "--include", "/").want(t, 2, "the root as the mount")
	admin.run(t, "restore", id, "--docker-volume", vol, "--include", "/container.json").want(t, 1, "a file as the mount")
	admin.run(t, "restore", id, "--docker-volume", vol, "--include", "/mounts/var/lib/app").want(t, 0, "restore one mount")
	sameTree(t, "mount restored as a volume", describeTree(t, d.mountpoint(vol)), f.wantVol)
}

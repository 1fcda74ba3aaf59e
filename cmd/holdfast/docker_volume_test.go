package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDockerVolume backs up a volume a container filled, removes it,
// restores the snapshot into a new volume and compares every entry (bytes,
// modes, owners, times, the root's owner and mode); then checks that a
// rerun into the volume it created resumes and that an unrelated,
// non-empty volume is refused.
func TestDockerVolume(t *testing.T) {
	d := newDockerT(t)
	srv := newCLIServer(t)
	admin, backup, _ := cliSetup(t, srv, "dockervol")
	vol, mp := d.filledVolume("data")
	want := describeTree(t, mp)

	r := backup.run(t, "backup", "--docker-volume", vol, "--tag", "docker").want(t, 0, "backup --docker-volume")
	id := r.lastLine()
	if !hexID.MatchString(id) {
		t.Fatalf("backup's last line %q is not a snapshot ID", id)
	}
	var snaps []struct {
		ID     string
		Source struct {
			Kind, Name string
			Labels     map[string]string
		}
	}
	out := admin.run(t, "snapshots", "--json").want(t, 0, "snapshots --json").stdout
	if err := json.Unmarshal([]byte(out), &snaps); err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots --json: %v\n%s", err, out)
	}
	if s := snaps[0].Source; s.Kind != "docker-volume" || s.Name != vol {
		t.Fatalf("source %+v, want docker-volume %s\n%s", s, vol, out)
	}
	if l := snaps[0].Source.Labels; l["driver"] != "local" || l["root-uid"] != "999" || l["root-gid"] != "999" || l["root-mode"] != "0750" {
		t.Errorf("labels %v, want driver local and the root's 999:999 0750", l)
	}

	d.docker("volume", "rm", vol)
	restored := d.name("volume", "restored")
	r = admin.run(t, "restore", id, "--docker-volume", restored).want(t, 0, "restore --docker-volume")
	if !strings.Contains(r.stdout, "into volume "+restored) {
		t.Errorf("restore said %q", r.stdout)
	}
	if got := d.docker("volume", "inspect", "-f", `{{index .Labels "holdfast.snapshot"}}`, restored); got != id {
		t.Errorf("restored volume label holdfast.snapshot=%q, want %s", got, id)
	}
	sameTree(t, "restored volume", describeTree(t, d.mountpoint(restored)), want)

	r = admin.run(t, "restore", id[:12], "--docker-volume", restored).want(t, 0, "restore again into the volume it created")
	if !strings.Contains(r.stdout, "already correct") {
		t.Errorf("rerun: %s", r.stdout)
	}

	other, _ := d.filledVolume("other")
	r = admin.run(t, "restore", id, "--docker-volume", other).want(t, 1, "restore into a non-empty volume")
	if !strings.Contains(r.stderr, "not empty") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("non-empty volume: stderr %q", r.stderr)
	}

	admin.run(t, "backup", "--docker-volume", d.prefix+"absent").want(t, 1, "backup of a missing volume")
	admin.run(t, "backup", "/tmp", "--docker-volume", vol).want(t, 2, "paths and a volume")
	admin.run(t, "backup", "/tmp", "--pause").want(t, 2, "--pause without Docker")
	admin.run(t, "restore", id, "--docker-volume", restored, "--target", t.TempDir()).want(t, 2, "both restore targets")
}

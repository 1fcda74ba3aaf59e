package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerImage builds the client image with `make image`
// (deploy/Dockerfile, FROM scratch) and runs the client from inside it, as
// deploy/README.md says (host network, the engine's socket and volumes
// mounted), to back up a volume against the loopback server; the host's
// client then restores the snapshot and finds the same bytes.
func TestDockerImage(t *testing.T) {
	d := newDockerT(t)
	if h := os.Getenv("DOCKER_HOST"); h != "" && h != "unix:///var/run/docker.sock" {
		t.Skipf("SKIP: DOCKER_HOST=%s; the image test mounts /var/run/docker.sock", h)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("SKIP: make not found; the image test builds with `make image`")
	}
	volumes := filepath.Join(d.docker("info", "-f", "{{.DockerRootDir}}"), "volumes")
	image := d.name("image", "holdfast") + ":test"
	d.cleanup("image", image)
	build := exec.Command("make", "-C", "../..", "image", "IMAGE="+image, "IMAGE_CTX="+t.TempDir())
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}

	srv := newCLIServer(t)
	admin, backup, _ := cliSetup(t, srv, "dockerimage")
	vol, mp := d.filledVolume("imgdata")
	want := describeTree(t, mp)
	delete(want, ".") // --target does not take the volume root's owner and mode

	client := d.name("container", "client")
	args := []string{"run", "--rm", "--name", client, "--network", "host",
		"-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", volumes + ":" + volumes,
		"-e", "HOLDFAST_SERVER=" + backup.server, "-e", "HOLDFAST_TOKEN=" + backup.token,
		"-e", "HOLDFAST_REPO=" + backup.repo, "-e", "HOLDFAST_PASSWORD=" + backup.password,
		image, "backup", "--docker-volume", vol, "--host", "in-image", "--json"}
	out, err := d.try(args...)
	if err != nil {
		t.Fatalf("backup from the image: %v\n%s", err, out)
	}
	var sum struct {
		SnapshotID string `json:"snapshot_id"`
	}
	lines := strings.Split(out, "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || !hexID.MatchString(sum.SnapshotID) {
		t.Fatalf("backup from the image printed %q (%v)", out, err)
	}

	var snaps []struct {
		Host   string
		Source struct{ Kind, Name string }
	}
	js := admin.run(t, "snapshots", "--json").want(t, 0, "snapshots").stdout
	if err := json.Unmarshal([]byte(js), &snaps); err != nil || len(snaps) != 1 || snaps[0].Host != "in-image" ||
		snaps[0].Source.Kind != "docker-volume" || snaps[0].Source.Name != vol {
		t.Fatalf("snapshots: %v\n%s", err, js)
	}
	dir := t.TempDir()
	admin.run(t, "restore", sum.SnapshotID, "--target", dir).want(t, 0, "restore")
	got := describeTree(t, dir)
	delete(got, ".")
	sameTree(t, "volume backed up from the image", got, want)
}

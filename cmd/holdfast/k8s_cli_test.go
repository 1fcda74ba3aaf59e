//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/client/k8s"
)

// runWithEnv runs the client binary with e's environment plus extra.
func runWithEnv(t *testing.T, e cliEnv, extra []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(cliBinary(t), args...)
	cmd.Env = append([]string{
		"PATH=/usr/bin:/bin", "HOME=" + e.cache, "XDG_CACHE_HOME=" + e.cache,
		"HOLDFAST_SERVER=" + e.server, "HOLDFAST_TOKEN=" + e.token,
		"HOLDFAST_REPO=" + e.repo, "HOLDFAST_PASSWORD=" + e.password,
	}, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run holdfast %v: %v", args, err)
	}
	return res
}

// TestCLIBackupK8sPVC backs up a directory as a PVC named by the
// downward-API variables and finds kind, name, labels and host in
// `snapshots --json`; a second run is incremental against the first even
// though the pod name changed; missing or invalid variables are usage
// errors that name the variable.
func TestCLIBackupK8sPVC(t *testing.T) {
	srv := newCLIServer(t)
	_, backup, restore := cliSetup(t, srv, "k8s")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pg.dat"), bytes.Repeat([]byte("row "), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{k8s.EnvNamespace + "=shop", k8s.EnvPod + "=pg-backup-2912-x7k", k8s.EnvPVC + "=data-pg-0"}

	r := runWithEnv(t, backup, env, "backup", "--k8s-pvc", dir, "--tag", "nightly").want(t, 0, "backup --k8s-pvc")
	first := r.lastLine()
	if r.stderr != "" {
		t.Errorf("stderr is not a terminal, yet got %q", r.stderr)
	}
	if !hexID.MatchString(first) {
		t.Fatalf("last line %q is not a snapshot ID", first)
	}
	env[1] = k8s.EnvPod + "=pg-backup-2913-q2m" // the next CronJob run is another pod
	r = runWithEnv(t, backup, env, "backup", "--k8s-pvc", dir, "--json").want(t, 0, "second backup --k8s-pvc")
	var sum backupSummaryJSON
	if err := json.Unmarshal([]byte(r.lastLine()), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Parent != first || sum.FilesUnmodified != 1 || sum.BytesRead != 0 {
		t.Errorf("second run not incremental against the first: %s", r.lastLine())
	}

	snaps := snapshotsJSON(t, restore)
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots, want 2", len(snaps))
	}
	s := snaps[1]
	if s.Source.Kind != "k8s-pvc" || s.Source.Name != "shop/data-pg-0" || s.Host != "kubernetes" {
		t.Errorf("source %+v host %q", s.Source, s.Host)
	}
	want := map[string]string{"namespace": "shop", "pod": "pg-backup-2913-q2m", "pvc": "data-pg-0"}
	if len(s.Source.Labels) != len(want) {
		t.Errorf("labels %v, want %v", s.Source.Labels, want)
	}
	for k, v := range want {
		if s.Source.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Source.Labels[k], v)
		}
	}
	if snaps[0].Source.Labels["pod"] != "pg-backup-2912-x7k" || !slices.Equal(snaps[0].Tags, []string{"nightly"}) {
		t.Errorf("first snapshot: %+v", snaps[0])
	}

	for _, tc := range []struct {
		env  []string
		args []string
		msg  string
	}{
		{env[:2], []string{"--k8s-pvc", dir}, "HOLDFAST_K8S_PVC is not set"},
		{[]string{env[0], env[2], k8s.EnvPod + "=Bad_Name"}, []string{"--k8s-pvc", dir}, `HOLDFAST_K8S_POD="Bad_Name": not a Kubernetes object name`},
		{env, []string{"--k8s-pvc", dir, dir}, "exactly one PATH"},
		{env, []string{"--k8s-pvc", "--k8s-pods", dir}, "exclude each other"},
		{env, []string{"--every", "1h", dir}, "--every needs --k8s-pods"},
	} {
		r := runWithEnv(t, backup, tc.env, append([]string{"backup"}, tc.args...)...).want(t, 2, "bad k8s backup")
		if !strings.Contains(r.stderr, tc.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("backup %v: stderr %q, want one line containing %q", tc.args, r.stderr, tc.msg)
		}
	}
}

// TestCLIBackupK8sPods lays out a kubelet pods directory with two
// PV-backed volumes bind-mounted where the kubelet mounts them, plus a
// secret and an unmounted CSI volume, and checks that --k8s-pods makes one
// snapshot per mounted PV with the node's labels. Bind mounts need root
// (CAP_SYS_ADMIN); without it the test is skipped.
func TestCLIBackupK8sPods(t *testing.T) {
	srv := newCLIServer(t)
	_, backup, restore := cliSetup(t, srv, "k8spods")
	pods := t.TempDir()
	const uidA, uidB = "0b7c9a52-5c1e-4f3e-9d2a-7f4b7e0c0001", "0b7c9a52-5c1e-4f3e-9d2a-7f4b7e0c0002"
	mk := func(rel string) string {
		p := filepath.Join(pods, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(p, data string) {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(src, dst string) {
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			t.Skipf("SKIP: bind mount needs CAP_SYS_ADMIN: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(dst, unix.MNT_DETACH) })
	}
	csiA := mk(uidA + "/volumes/kubernetes.io~csi/pvc-aaa")
	write(filepath.Join(csiA, "vol_data.json"), `{"specVolID":"pvc-aaa","driverName":"rbd.csi.ceph.com","volumeLifecycleMode":"Persistent"}`)
	dataA := t.TempDir()
	write(filepath.Join(dataA, "a.txt"), "volume a")
	bind(dataA, mk(uidA+"/volumes/kubernetes.io~csi/pvc-aaa/mount"))
	write(filepath.Join(mk(uidA+"/volumes/kubernetes.io~secret/token"), "token"), "do not back up")
	local := mk(uidB + "/volumes/kubernetes.io~local-volume/local-pv-1")
	dataB := t.TempDir()
	write(filepath.Join(dataB, "b.txt"), "volume b")
	bind(dataB, local)
	unmounted := mk(uidB + "/volumes/kubernetes.io~csi/pvc-ccc")
	write(filepath.Join(unmounted, "vol_data.json"), `{"specVolID":"pvc-ccc","driverName":"d","volumeLifecycleMode":"Persistent"}`)
	mk(uidB + "/volumes/kubernetes.io~csi/pvc-ccc/mount")

	r := runWithEnv(t, backup, []string{k8s.EnvNode + "=node-7"}, "backup", "--k8s-pods", pods, "--json").want(t, 0, "backup --k8s-pods")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one summary line per volume, got:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`skipped .*/pvc-ccc: not mounted`).MatchString(r.stderr) {
		t.Errorf("stderr does not report the unmounted volume: %q", r.stderr)
	}
	snaps := snapshotsJSON(t, restore)
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots, want 2", len(snaps))
	}
	byName := map[string]snapshotJSON{}
	for _, s := range snaps {
		byName[s.Source.Name] = s
	}
	a, b := byName["pv:pvc-aaa"], byName["pv:local-pv-1"]
	if a.Source.Kind != "k8s-pvc" || a.Source.Labels["csi-driver"] != "rbd.csi.ceph.com" || a.Source.Labels["pod-uid"] != uidA ||
		a.Source.Labels["node"] != "node-7" || a.Source.Labels["pv"] != "pvc-aaa" || a.Files != 1 {
		t.Errorf("CSI volume snapshot: %+v", a)
	}
	if b.Source.Kind != "k8s-pvc" || b.Source.Labels["plugin"] != "kubernetes.io/local-volume" || b.Source.Labels["pod-uid"] != uidB || b.Files != 1 {
		t.Errorf("local volume snapshot: %+v", b)
	}
	if _, ok := a.Source.Labels["namespace"]; ok {
		t.Errorf("namespace label invented: %v", a.Source.Labels)
	}
}

// TestCLIBackupK8sPodsEvery runs --k8s-pods --every over a pods
// directory whose one candidate is skipped (so each pass says so on
// stderr), waits for two passes and stops it with SIGTERM: exit 0.
func TestCLIBackupK8sPodsEvery(t *testing.T) {
	srv := newCLIServer(t)
	_, backup, _ := cliSetup(t, srv, "k8severy")
	pods := t.TempDir()
	if err := os.MkdirAll(filepath.Join(pods, "uid-1/volumes/kubernetes.io~csi/pvc-x/mount"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cliBinary(t), "backup", "--k8s-pods", pods, "--every", "50ms")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + backup.cache, "HOLDFAST_SERVER=" + backup.server,
		"HOLDFAST_TOKEN=" + backup.token, "HOLDFAST_REPO=" + backup.repo, "HOLDFAST_PASSWORD=" + backup.password}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(stderr.String(), "skipped") < 2 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no two passes in 30s; stderr %q", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM between passes: %v, stderr %q", err, stderr.String())
	}
}

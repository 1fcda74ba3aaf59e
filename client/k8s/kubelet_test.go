package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKubelet lays out a pods directory the way the kubelet does.
func fakeKubelet(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const a, b, c = "1a2b3c4d-0000-4000-8000-00000000000a", "1a2b3c4d-0000-4000-8000-00000000000b", "1a2b3c4d-0000-4000-8000-00000000000c"
	csi := "/volumes/kubernetes.io~csi/"
	// Pod a: a persistent CSI volume with data, a config map, a secret, an empty dir.
	write(a+csi+"pvc-111/vol_data.json", `{"specVolID":"pvc-111","driverName":"ebs.csi.aws.com","volumeHandle":"vol-1","nodeName":"n1","attachmentID":"csi-x","volumeLifecycleMode":"Persistent"}`)
	write(a+csi+"pvc-111/mount/db/base.dat", "rows")
	write(a+"/volumes/kubernetes.io~configmap/cfg/app.conf", "x=1")
	write(a+"/volumes/kubernetes.io~secret/creds/password", "hunter2")
	write(a+"/volumes/kubernetes.io~empty-dir/scratch/tmp", "t")
	write(a+"/etc-hosts", "127.0.0.1 localhost")
	// Pod a: an inline ephemeral CSI volume (secrets store), never backed up.
	write(a+csi+"secrets-store/vol_data.json", `{"specVolID":"secrets-store","driverName":"secrets-store.csi.k8s.io","volumeLifecycleMode":"Ephemeral"}`)
	write(a+csi+"secrets-store/mount/token", "s3cr3t")
	// Pod b: a local PV, the same CSI PV as pod a (RWX), and a CSI volume without vol_data.json.
	write(b+"/volumes/kubernetes.io~local-volume/local-pv-9/data.txt", "local")
	write(b+csi+"pvc-111/vol_data.json", `{"specVolID":"pvc-111","driverName":"ebs.csi.aws.com","volumeLifecycleMode":"Persistent"}`)
	write(b+csi+"pvc-111/mount/db/base.dat", "rows")
	os.MkdirAll(filepath.Join(root, b+csi+"pvc-nodata/mount"), 0o755)
	// Pod c: a CSI volume not mounted yet (no mount dir), one with bad JSON, one unmounted per the mount table.
	write(c+csi+"pvc-333/vol_data.json", `{"specVolID":"pvc-333","driverName":"d","volumeLifecycleMode":"Persistent"}`)
	write(c+csi+"pvc-bad/vol_data.json", `{not json`)
	write(c+csi+"pvc-444/vol_data.json", `{"specVolID":"pvc-444","driverName":"d"}`)
	os.MkdirAll(filepath.Join(root, c+csi+"pvc-444/mount"), 0o755)
	// Noise: a stray file at the top.
	write("stray-file", "")
	return root
}

func TestDiscover(t *testing.T) {
	root := fakeKubelet(t)
	const a, b = "1a2b3c4d-0000-4000-8000-00000000000a", "1a2b3c4d-0000-4000-8000-00000000000b"
	mounted := func(p string) bool { return !strings.Contains(p, "pvc-444") }
	vols, skipped, err := Discover(root, mounted)
	if err != nil {
		t.Fatal(err)
	}
	want := []Volume{
		{PodUID: b, PV: "local-pv-9", Plugin: "kubernetes.io/local-volume", Path: filepath.Join(root, b, "volumes/kubernetes.io~local-volume/local-pv-9")},
		{PodUID: a, PV: "pvc-111", Plugin: "kubernetes.io/csi", Driver: "ebs.csi.aws.com", Path: filepath.Join(root, a, "volumes/kubernetes.io~csi/pvc-111/mount")},
	}
	if len(vols) != len(want) {
		t.Fatalf("found %d volumes, want %d: %+v", len(vols), len(want), vols)
	}
	for i := range want {
		if vols[i] != want[i] {
			t.Errorf("volume %d = %+v\nwant %+v", i, vols[i], want[i])
		}
	}
	wantSkip := map[string]string{
		"secrets-store": "inline ephemeral",
		"pvc-nodata":    "vol_data.json",
		"pvc-333":       "no data directory",
		"pvc-bad":       "not JSON",
		"pvc-444":       "not mounted",
		"mount":         "already found in another pod", // pod b's pvc-111/mount
	}
	got := map[string]string{}
	for _, s := range skipped {
		got[filepath.Base(s.Path)] = s.Reason
	}
	for name, frag := range wantSkip {
		if !strings.Contains(got[name], frag) {
			t.Errorf("skip of %s: reason %q, want one containing %q (all: %v)", name, got[name], frag, skipped)
		}
	}
	if len(skipped) != len(wantSkip) {
		t.Errorf("%d skipped, want %d: %v", len(skipped), len(wantSkip), skipped)
	}
	for _, s := range skipped {
		if strings.Contains(s.Path, "configmap") || strings.Contains(s.Path, "secret~") || strings.Contains(s.Path, "empty-dir") {
			t.Errorf("pod-local volume reported: %v", s)
		}
	}

	// Without a mount table, pvc-444 counts as a volume.
	vols, _, err = Discover(root, nil)
	if err != nil || len(vols) != 3 || vols[2].PV != "pvc-444" {
		t.Fatalf("without mount check: %+v, %v", vols, err)
	}
}

func TestDiscoverMissingDir(t *testing.T) {
	_, _, err := Discover(filepath.Join(t.TempDir(), "nope"), nil)
	if err == nil || !strings.Contains(err.Error(), "kubelet pods directory") || strings.Contains(err.Error(), "nope") {
		t.Fatalf("error %v: want a one-line reason without the path", err)
	}
}

func TestVolumeSource(t *testing.T) {
	v := Volume{PodUID: "u1", PV: "pvc-1", Plugin: "kubernetes.io/csi", Driver: "d.example.com", Path: "/x"}
	s := v.Source("node-a")
	if s.Kind != "k8s-pvc" || s.Name != "pv:pvc-1" {
		t.Fatalf("source %+v", s)
	}
	var keys []string
	for _, l := range s.Labels {
		keys = append(keys, l.Key+"="+l.Value)
	}
	if got := strings.Join(keys, ","); got != "csi-driver=d.example.com,node=node-a,plugin=kubernetes.io/csi,pod-uid=u1,pv=pvc-1" {
		t.Fatalf("labels %s", got)
	}
	if s := (Volume{PodUID: "u", PV: "p", Plugin: "kubernetes.io/local-volume"}).Source(""); len(s.Labels) != 3 {
		t.Fatalf("local volume without node: labels %+v", s.Labels)
	}
}

func TestParseMountinfo(t *testing.T) {
	const table = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
97 22 0:50 / /var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pvc-1/mount rw shared:40 - ext4 /dev/nvme1n1 rw
98 22 0:51 / /mnt/with\040space rw - tmpfs tmpfs rw
`
	set, err := parseMountinfo(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pvc-1/mount", "/mnt/with space"} {
		if !set[p] {
			t.Errorf("%q not a mount point in %v", p, set)
		}
	}
	if set["/var/lib/kubelet"] || len(set) != 3 {
		t.Errorf("unexpected set %v", set)
	}
	if _, err := parseMountinfo(strings.NewReader("1 2\n")); err == nil {
		t.Error("short line accepted")
	}
	if _, err := MountPoints(); err != nil {
		t.Logf("SKIP MountPoints on this system: %v", err)
	}
}

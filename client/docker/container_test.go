package docker

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// TestStageContainer lays out mounts as SPEC.md §12.7.2 says: tmpfs left
// out, destinations sorted, placeholders in the staging directory, a
// nested mount reached through its outer mount's source, and refusals for
// destinations that make no entry names and for a nested mount point the
// outer source lacks.
func TestStageContainer(t *testing.T) {
	src := t.TempDir()
	for _, d := range []string{"vol", "app/data", "conf"} {
		os.MkdirAll(filepath.Join(src, d), 0o755)
	}
	ms := []container.MountPoint{
		{Type: mount.TypeBind, Source: filepath.Join(src, "app"), Destination: "/srv/app"},
		{Type: mount.TypeVolume, Name: "v", Source: filepath.Join(src, "vol"), Destination: "/srv/app/data/"},
		{Type: mount.TypeTmpfs, Destination: "/run"},
		{Type: mount.TypeBind, Source: filepath.Join(src, "conf"), Destination: "/etc/conf"},
	}
	mounts, err := dataMounts(ms)
	if err != nil {
		t.Fatal(err)
	}
	tg := &Target{stage: t.TempDir()}
	if err := tg.stageContainer([]byte(`{"Name":"/c","Mounts":[]}`), mounts); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"mounts/srv/app":      filepath.Join(src, "app"),
		"mounts/srv/app/data": filepath.Join(src, "vol"),
		"mounts/etc/conf":     filepath.Join(src, "conf"),
	}
	if len(tg.Grafts) != len(want) {
		t.Fatalf("grafts %v, want %v", tg.Grafts, want)
	}
	for k, v := range want {
		if tg.Grafts[k] != v {
			t.Errorf("graft %s = %q, want %q", k, tg.Grafts[k], v)
		}
	}
	for _, p := range []string{"container.json", "mounts/srv/app", "mounts/etc/conf"} {
		if _, err := os.Lstat(filepath.Join(tg.stage, p)); err != nil {
			t.Errorf("staging lacks %s", p)
		}
	}
	if _, err := os.Lstat(filepath.Join(tg.stage, "mounts/srv/app/data")); err == nil {
		t.Error("a nested mount got a placeholder in the staging directory; it is reached through its outer mount")
	}
	if b, _ := os.ReadFile(filepath.Join(tg.stage, "container.json")); string(b) != "{\n    \"Name\": \"/c\",\n    \"Mounts\": []\n}\n" {
		t.Errorf("container.json %q", b)
	}
	paths, err := MountPaths([]byte(`{"Mounts":[{"Type":"volume","Source":"/x","Destination":"/b"},{"Type":"bind","Source":"/y","Destination":"/a/c"},{"Type":"tmpfs","Destination":"/t"}]}`))
	if err != nil || !slices.Equal(paths, []string{"/mounts/a/c", "/mounts/b"}) {
		t.Errorf("MountPaths: %q, %v", paths, err)
	}

	os.RemoveAll(filepath.Join(src, "app/data"))
	tg2 := &Target{stage: t.TempDir()}
	if err := tg2.stageContainer([]byte(`{}`), mounts); !errors.Is(err, ErrUnsupported) {
		t.Errorf("nested mount point missing from the outer source: %v", err)
	}
	for _, dest := range []string{"relative", "/", "/a/../.."} {
		if _, err := dataMounts([]container.MountPoint{{Type: mount.TypeBind, Source: src, Destination: dest}}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("destination %q: %v", dest, err)
		}
	}
}

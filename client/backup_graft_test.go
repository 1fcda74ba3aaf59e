package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// TestBackupGrafts backs up a staging directory whose placeholders are
// replaced by other directories and a file (as a Docker container's mounts
// are), with a caller-given source: the snapshot holds the grafts' content
// at the placeholders' paths, the header names the source and the graft
// targets, and a second backup finds everything unmodified.
func TestBackupGrafts(t *testing.T) {
	ctx := context.Background()
	srv := newBkServer(t)
	r := srv.initRepo(t, "grafts", bkTestParams)
	base := t.TempDir()
	stage := filepath.Join(base, "stage")
	bkWrite(t, filepath.Join(stage, "container.json"), []byte(`{"Name":"/c"}`))
	for _, d := range []string{"mounts/data", "mounts/etc/app"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bkWrite(t, filepath.Join(stage, "mounts/etc/app.conf"), nil) // placeholder for a file
	vol := filepath.Join(base, "vol")
	bkWrite(t, filepath.Join(vol, "db", "table"), bkRandom(1, 100000))
	conf := filepath.Join(base, "host.conf")
	bkWrite(t, conf, []byte("setting=1"))
	bind := filepath.Join(base, "bind")
	bkWrite(t, filepath.Join(bind, "x"), []byte("x"))

	opts := BackupOptions{
		Paths:  []string{stage},
		Host:   "h",
		Source: snapshot.Source{Kind: snapshot.KindDockerContainer, Name: "c"},
		Grafts: map[string]string{"mounts/data": vol, "mounts/etc/app.conf": conf, "mounts/etc/app": bind},
	}
	opts.CacheDir = t.TempDir()
	sum, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := bkHeader(t, r, sum.SnapshotID).Header
	if h.Source.Kind != snapshot.KindDockerContainer || h.Source.Name != "c" {
		t.Fatalf("source %+v", h.Source)
	}
	if want := []string{vol, bind, conf}; !slices.Equal(h.Paths, want) {
		t.Fatalf("paths %q, want %q", h.Paths, want)
	}
	trees := bkSnapshotTree(t, r, h.Root)
	if e := bkEntry(t, trees["mounts/data/db"], "table"); !slices.Equal(bkReadContent(t, r, e.Content), bkRandom(1, 100000)) {
		t.Fatal("grafted directory content differs")
	}
	if e := bkEntry(t, trees["mounts/etc"], "app.conf"); string(bkReadContent(t, r, e.Content)) != "setting=1" {
		t.Fatal("grafted file content differs")
	}
	if e := bkEntry(t, trees["mounts/etc/app"], "x"); string(bkReadContent(t, r, e.Content)) != "x" {
		t.Fatal("grafted bind content differs")
	}
	if sum.FilesNew != 4 {
		t.Errorf("files new %d, want 4 (container.json, table, app.conf, x)", sum.FilesNew)
	}

	again, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Parent != sum.SnapshotID || again.FilesUnmodified != 4 || again.BytesRead != 0 {
		t.Fatalf("second backup: parent %s, %d unmodified, %d bytes read", again.Parent.Short(), again.FilesUnmodified, again.BytesRead)
	}

	bad := opts
	bad.Grafts = map[string]string{"../x": vol}
	if _, err := r.Backup(ctx, bad); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("graft outside the root: %v", err)
	}
	bad.Grafts = map[string]string{"x": vol}
	bad.Paths = []string{stage, conf}
	if _, err := r.Backup(ctx, bad); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("grafts with two paths: %v", err)
	}
}

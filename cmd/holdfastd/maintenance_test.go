package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo"
)

// populate creates a data directory with a 2+1 layout over three local
// stores, one repository and one committed snapshot of 40 chunks.
func populate(t *testing.T) (data string, stores []string) {
	t.Helper()
	ctx := context.Background()
	data = filepath.Join(t.TempDir(), "data")
	for i := 0; i < 3; i++ {
		stores = append(stores, filepath.Join(t.TempDir(), "store"))
	}
	layout, err := repo.LoadOrCreateLayout(mkdir(t, data), repo.NewLayout(stores, 2, 1), true)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, repo.Config{DataDir: data, Layout: layout, PackTarget: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	repoID, err := r.CreateRepository(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := keys.NewMaster(nil, chunker.DefaultParams)
	k := m.Derive()
	s := seal.NewSealer(k)
	var ids []format.ID
	for i := 0; i < 40; i++ {
		plain := []byte(strings.Repeat(string(rune('a'+i%26)), 5000+i*97))
		id := s.ID(plain)
		env, err := s.Seal(nil, seal.TypeData, id, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.PutChunk(ctx, repoID, id, env); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, format.ID.Compare)
	sum, _ := snapshot.RefsHash(ids)
	h := &snapshot.Header{Time: 1, Host: "h", Source: snapshot.Source{Kind: "path", Name: "/x"},
		Root: []tree.Extent{{ID: ids[0], Length: 1}}, RefCount: uint64(len(ids)), RefsHash: sum}
	h.Sign(k.MAC)
	if _, err := r.CommitSnapshot(ctx, repoID, h.Encode(), repo.RefsFromSlice(ids)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return data, stores
}

func mkdir(t *testing.T, dir string) string {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runJSON runs holdfastd with --json and decodes its report.
func runJSON(t *testing.T, bin string, args ...string) (map[string]int, int) {
	t.Helper()
	out, err := exec.Command(bin, append(args, "--json")...).Output()
	var rep map[string]int
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		t.Fatalf("holdfastd %v: output %q is not a JSON report: %v (%v)", args, out, jerr, err)
	}
	return rep, exitCode(err)
}

func TestScrubAndRebuildIndexOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildServer(t)
	data, stores := populate(t)

	rep, code := runJSON(t, bin, "scrub", "--data", data)
	if code != 0 || rep["packs"] == 0 || rep["shards_missing"]+rep["shards_corrupt"] != 0 {
		t.Fatalf("clean scrub: exit %d, %v", code, rep)
	}

	// Bit rot in one shard of every pack on store 1: scrub repairs it all.
	rotted := 0
	filepath.WalkDir(stores[1], func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, "/packs/") {
			b, _ := os.ReadFile(path)
			b[len(b)/2] ^= 0xff
			os.WriteFile(path, b, 0o600)
			rotted++
		}
		return nil
	})
	rep, code = runJSON(t, bin, "scrub", "--data", data)
	if code != 0 || rep["shards_corrupt"] != rotted || rep["shards_repaired"] != rotted {
		t.Fatalf("scrub of %d rotted shards: exit %d, %v", rotted, code, rep)
	}
	rep, code = runJSON(t, bin, "scrub", "--data", data, "--no-repair")
	if code != 0 || rep["shards_corrupt"] != 0 {
		t.Fatalf("scrub after repair: exit %d, %v", code, rep)
	}

	// Store 1's disk replaced by an empty one (or not mounted: the same
	// empty directory): scrub leaves it alone until told it is a
	// replacement, then refills it.
	if err := os.RemoveAll(stores[1]); err != nil {
		t.Fatal(err)
	}
	mkdir(t, stores[1])
	rep, code = runJSON(t, bin, "scrub", "--data", data)
	if code != 0 || rep["shards_unavailable"] == 0 || rep["shards_repaired"] != 0 {
		t.Fatalf("scrub with an empty unmarked store: exit %d, %v", code, rep)
	}
	if left, _ := os.ReadDir(stores[1]); len(left) != 0 {
		t.Fatalf("scrub wrote %d entries into an unadopted store", len(left))
	}
	out, err := exec.Command(bin, "scrub", "--data", data, "--replaced-store", "0").CombinedOutput()
	if exitCode(err) != exitUsage || !strings.Contains(string(out), "nothing to adopt") {
		t.Fatalf("--replaced-store of a store that is there: exit %d, %s", exitCode(err), out)
	}
	rep, code = runJSON(t, bin, "scrub", "--data", data, "--replaced-store", "1")
	if code != 0 || rep["shards_repaired"] != rep["packs"] || rep["shards_unavailable"] != 0 {
		t.Fatalf("scrub --replaced-store 1: exit %d, %v", code, rep)
	}
	rep, code = runJSON(t, bin, "scrub", "--data", data, "--no-repair")
	if code != 0 || rep["shards_missing"]+rep["shards_unavailable"]+rep["shards_corrupt"] != 0 {
		t.Fatalf("scrub after refilling the replaced store: exit %d, %v", code, rep)
	}

	// Lose the index: rebuild-index recovers the snapshot and every chunk.
	if err := os.RemoveAll(filepath.Join(data, "index")); err != nil {
		t.Fatal(err)
	}
	rep, code = runJSON(t, bin, "rebuild-index", "--data", data)
	if code != 0 || rep["snapshots"] != 1 || rep["chunks"] != 40 || rep["repositories"] != 1 {
		t.Fatalf("rebuild-index: exit %d, %v", code, rep)
	}

	// A contradicting layout flag is refused.
	out, err = exec.Command(bin, "scrub", "--data", data, "--shards", "4+2").CombinedOutput()
	if exitCode(err) != exitFailure || !strings.Contains(string(out), "contradict") {
		t.Fatalf("contradicting --shards: exit %d, %s", exitCode(err), out)
	}

	// Two of three stores gone with m=1: scrub reports the loss and exits 1.
	for _, s := range stores[:2] {
		os.RemoveAll(s)
		mkdir(t, s)
	}
	rep, code = runJSON(t, bin, "scrub", "--data", data, "--no-repair")
	if code != exitFailure || rep["packs_lost"] == 0 {
		t.Fatalf("scrub with 2 of 3 stores gone: exit %d, %v", code, rep)
	}
}

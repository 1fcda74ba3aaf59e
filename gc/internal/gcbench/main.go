package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/gc"
	"github.com/holdfast-backup/holdfast/repo"
)

const (
	perPack   = 1000
	chunkLen  = 32 << 10
	snapshots = 10
	repoName  = "bench"
)

func main() {
	var (
		build = flag.Bool("build", false, "build the synthetic repository in -dir")
		run   = flag.Bool("gc", false, "run one GC over -dir and report")
		real  = flag.Bool("real", false, "real small repository: bytes reclaimed vs bytes dead")
		dir   = flag.String("dir", "", "engine data directory")
		n     = flag.Int("n", 1_000_000, "chunks (-build)")
		dry   = flag.Bool("dry", false, "dry run (-gc)")
	)
	flag.Parse()
	ctx := context.Background()
	switch {
	case *build && *dir != "":
		buildSynthetic(ctx, *dir, *n)
	case *run && *dir != "":
		runGC(ctx, *dir, *dry)
	case *real:
		runReal(ctx)
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func open(ctx context.Context, dir string, create bool) *repo.Repo {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Fatal(err)
	}
	layout, err := repo.LoadOrCreateLayout(dir, repo.NewLayout([]string{filepath.Join(dir, "store")}, 1, 0), create)
	if err != nil {
		log.Fatal(err)
	}
	r, err := repo.Open(ctx, repo.Config{DataDir: dir, Layout: layout,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		log.Fatal(err)
	}
	return r
}

func chunkID(i int) format.ID {
	var id format.ID
	h := blake3.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	copy(id[:], h[:])
	binary.BigEndian.PutUint64(id[:8], uint64(i))
	return id
}

// dead reports whether chunk i is referenced by no snapshot.
func dead(i int) bool {
	if (i/perPack)%10 < 2 {
		return true
	}
	return blake3.Sum256(binary.BigEndian.AppendUint64([]byte("d"), uint64(i)))[0]%10 == 0
}

// inSnapshot reports whether live chunk i is in snapshot j: each live
// chunk is in one or two snapshots.
func inSnapshot(i, j int) bool { return i%snapshots == j || (i/7)%snapshots == j }

func buildSynthetic(ctx context.Context, dir string, n int) {
	start := time.Now()
	r := open(ctx, dir, true)
	defer r.Close(ctx)
	repoID, err := r.CreateRepository(ctx, repoName)
	if err != nil {
		log.Fatal(err)
	}
	created := time.Now().Add(-48 * time.Hour)
	b := r.Index().NewBatch()
	for p := 0; p*perPack < n; p++ {
		var pid format.ID
		binary.BigEndian.PutUint64(pid[:8], uint64(p)+1)
		cnt := min(perPack, n-p*perPack)
		for k := 0; k < cnt; k++ {
			b.PutChunk(repoID, chunkID(p*perPack+k), indexkey.ChunkLoc{Pack: pid, Offset: uint64(8 + k*chunkLen), Length: chunkLen})
		}
		b.PutPack(repoID, pid, indexkey.PackRecord{
			Length: int64(8 + cnt*(chunkLen+60) + 49), K: 1, M: 0, Stores: []uint16{0},
			LiveBytes: uint64(cnt * chunkLen), LiveCount: uint64(cnt), Created: created,
		})
		if b.Len() > 20000 {
			if err := b.Commit(false); err != nil {
				log.Fatal(err)
			}
			b = r.Index().NewBatch()
		}
	}
	if err := b.Commit(true); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("index: %d chunks in %d packs, %.1fs\n", n, (n+perPack-1)/perPack, time.Since(start).Seconds())
	m, err := keys.NewMaster(blake3.New().Digest(), chunker.DefaultParams)
	if err != nil {
		log.Fatal(err)
	}
	k := m.Derive()
	for j := 0; j < snapshots; j++ {
		refs := func() repo.RefSource {
			i := 0
			return func() (format.ID, error) {
				for ; i < n; i++ {
					if !dead(i) && inSnapshot(i, j) {
						i++
						return chunkID(i - 1), nil
					}
				}
				return format.ID{}, io.EOF
			}
		}
		var count uint64
		rw := snapshot.NewRefWriter(io.Discard, countRefs(n, j))
		src := refs()
		for id, err := src(); err == nil; id, err = src() {
			if err := rw.Add(id); err != nil {
				log.Fatal(err)
			}
			count++
		}
		if err := rw.Close(); err != nil {
			log.Fatal(err)
		}
		h := &snapshot.Header{Time: time.Now().UnixNano(), Host: fmt.Sprintf("h%d", j),
			Source: snapshot.Source{Kind: "path", Name: "/data"}, Root: []tree.Extent{{ID: chunkID(0), Length: 1}},
			RefCount: count, RefsHash: rw.Sum()}
		h.Sign(k.MAC)
		if _, err := r.CommitSnapshot(ctx, repoID, h.Encode(), refs()); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("snapshot %d: %d refs, %.1fs\n", j, count, time.Since(start).Seconds())
	}
}

func countRefs(n, j int) uint64 {
	var c uint64
	for i := 0; i < n; i++ {
		if !dead(i) && inSnapshot(i, j) {
			c++
		}
	}
	return c
}

func runGC(ctx context.Context, dir string, dry bool) {
	r := open(ctx, dir, false)
	defer r.Close(ctx)
	repoID, err := r.RepositoryID(repoName)
	if err != nil {
		log.Fatal(err)
	}
	before := vm("VmRSS")
	// Baseline in the same process: one bare scan of the chunk index, the
	// least any mark has to read.
	start := time.Now()
	scanned := 0
	if err := r.Index().Chunks(repoID, func(format.ID, indexkey.ChunkLoc) error { scanned++; return nil }); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("baseline: bare chunk-index scan of %d entries %.1fs\n", scanned, time.Since(start).Seconds())
	start = time.Now()
	rep, err := gc.Run(ctx, r, repoID, gc.Options{DryRun: dry})
	if err != nil {
		log.Fatal(err)
	}
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	fmt.Printf("gc: %.1fs wall, RSS before %d MiB, peak RSS (VmHWM) %d MiB\n",
		time.Since(start).Seconds(), before>>20, vm("VmHWM")>>20)
}

// vm returns a /proc/self/status field in bytes.
func vm(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, field+":")), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

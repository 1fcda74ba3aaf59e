package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/gc"
	"github.com/holdfast-backup/holdfast/repo"
)

// runReal builds a small real repository (4 snapshots over 1,600 random
// chunks of 4–60 KiB in real erasure-coded packs on one local store, 2+1),
// forgets two snapshots, and compares the bytes GC found dead with what the
// store directory really shrank by.
func runReal(ctx context.Context) {
	dir, err := os.MkdirTemp("", "gcbench-real-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	layout, err := repo.LoadOrCreateLayout(dir, repo.NewLayout([]string{filepath.Join(dir, "store")}, 2, 1), true)
	if err != nil {
		log.Fatal(err)
	}
	r, err := repo.Open(ctx, repo.Config{DataDir: dir, Layout: layout, PackTarget: 4 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close(ctx)
	repoID, err := r.CreateRepository(ctx, repoName)
	if err != nil {
		log.Fatal(err)
	}
	m, err := keys.NewMaster(blake3.New().Digest(), chunker.DefaultParams)
	if err != nil {
		log.Fatal(err)
	}
	k := m.Derive()
	s := seal.NewSealer(k)
	// Four snapshots of 400 new chunks each, each also referencing the
	// previous snapshot's last 100 (shared chunks).
	var sets [][]format.ID
	var prev []format.ID
	for j := 0; j < 4; j++ {
		ids := append([]format.ID(nil), prev...)
		for i := 0; i < 400; i++ {
			plain := make([]byte, 4<<10+int(randByte())*220)
			rand.Read(plain)
			id := s.ID(plain)
			env, err := s.Seal(nil, seal.TypeData, id, plain, nil)
			if err != nil {
				log.Fatal(err)
			}
			if _, err := r.PutChunk(ctx, repoID, id, env); err != nil {
				log.Fatal(err)
			}
			ids = append(ids, id)
		}
		slices.SortFunc(ids, format.ID.Compare)
		sets = append(sets, ids)
		prev = ids[len(ids)-100:]
	}
	var snaps []format.ID
	for j, ids := range sets {
		sum, _ := snapshot.RefsHash(ids)
		h := &snapshot.Header{Time: time.Now().UnixNano(), Host: fmt.Sprintf("h%d", j),
			Source: snapshot.Source{Kind: "path", Name: "/d"}, Root: []tree.Extent{{ID: ids[0], Length: 1}},
			RefCount: uint64(len(ids)), RefsHash: sum}
		h.Sign(k.MAC)
		id, err := r.CommitSnapshot(ctx, repoID, h.Encode(), repo.RefsFromSlice(ids))
		if err != nil {
			log.Fatal(err)
		}
		snaps = append(snaps, id)
	}
	for _, id := range snaps[:2] {
		if err := r.DeleteSnapshot(ctx, repoID, id); err != nil {
			log.Fatal(err)
		}
	}
	store := filepath.Join(dir, "store", repoName, "packs")
	before := du(store)
	rep, err := gc.Run(ctx, r, repoID, gc.Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err != nil {
		log.Fatal(err)
	}
	after := du(store)
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	fmt.Printf("record bytes found dead: %d\nstore bytes before %d, after %d: reclaimed %d (%.2f x the dead record bytes; report's stored_bytes_freed %d)\n",
		rep.BytesDead, before, after, before-after, float64(before-after)/float64(rep.BytesDead), rep.StoredBytesFreed)
}

func randByte() byte {
	var b [1]byte
	rand.Read(b[:])
	return b[0]
}

// du sums the sizes of the files under dir.
func du(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

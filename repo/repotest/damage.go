package repotest

import (
	"context"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// DamageRecord flips every byte of chunk id's record in the data shard
// that holds it, in repository name of eng. stores maps store IDs to
// handles on the engine's stores (the same directories or buckets). The
// shard keeps its length, so only a reader that checks the record (or the
// shard's hash) notices. It damages nothing and returns false when the
// record spans two data shards.
func DamageRecord(t testing.TB, eng *repo.Repo, name string, id format.ID, stores map[uint16]backend.Backend) bool {
	t.Helper()
	ctx := context.Background()
	repoID, err := eng.RepositoryID(name)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := eng.Index().GetChunk(repoID, id)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := eng.Index().GetPack(repoID, loc.Pack)
	if err != nil {
		t.Fatal(err)
	}
	size := shard.ShardSize(rec.Length, rec.K)
	first, last := int64(loc.Offset)/size, (int64(loc.Offset)+int64(loc.Length)-1)/size
	if first != last {
		return false
	}
	i := int(first)
	store, ok := stores[rec.Stores[i]]
	if !ok {
		t.Fatalf("no handle on store %d", rec.Stores[i])
	}
	obj := backend.Name(shard.ObjectName(name, loc.Pack, i))
	b, err := backend.ReadAll(ctx, store, obj, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	start := shard.HeaderSize + int(int64(loc.Offset)%size)
	for j := start; j < start+int(loc.Length); j++ {
		b[j] ^= 0xff
	}
	if err := store.Delete(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, obj, backend.Bytes(b)); err != nil {
		t.Fatal(err)
	}
	return true
}

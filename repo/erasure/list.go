package erasure

import (
	"context"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// ShardObject is one shard object found by ListShards.
type ShardObject struct {
	Store uint16
	Pack  format.ID
	Index int   // shard index
	Size  int64 // object size, header included
}

// ListShards calls fn for every shard object of repo on one store, by
// listing "<repo>/packs/", on the caller's goroutine, in no particular
// order; it stops at fn's first error and returns it (wrapped). Objects
// there whose names are not shard names are logged and skipped. Rebuilding
// the index uses it to find packs and their placement: shard i of a pack is
// on the store where the object "<pack ID>.NN" with NN = i turned up. It
// reads no object, so it says nothing about their health (ScrubPack does).
func (c *Coder) ListShards(ctx context.Context, store uint16, repo string, fn func(ShardObject) error) error {
	b, err := c.store(store)
	if err != nil {
		return fmt.Errorf("erasure: list shards: %w", err)
	}
	prefix := shard.Prefix(repo)
	err = b.List(ctx, prefix, func(info backend.Info) error {
		r, id, index, err := shard.ParseObjectName(string(info.Name))
		if err != nil || r != repo {
			c.log.Warn("erasure: skipping an object that is not a shard", "store", store, "name", string(info.Name))
			return nil
		}
		return fn(ShardObject{Store: store, Pack: id, Index: index, Size: info.Size})
	})
	if err != nil {
		return fmt.Errorf("erasure: list shards of %s on store %d: %w", repo, store, err)
	}
	return nil
}

// Package erasure stores packs as erasure-coded shards on a set of stores
// and reads them back, whole or by range, surviving the loss or corruption
// of up to m shards per pack (SPEC.md §9.7–§9.11).
//
// A [Coder] is built from the stores (each a [backend.Backend] with a
// numeric ID) and the layout k data + m parity shards:
//
//	c, err := erasure.New(stores, 4, 2, erasure.Options{Log: log, OnDamage: countDamage})
//	placement, err := c.WritePack(ctx, repo, packID, packBytes)
//	// ... commit packID → placement to the index, only now ...
//	rec, err := c.ReadRange(ctx, repo, packID, packLen, placement,
//		int64(e.Offset), int64(e.Length),
//		func(b []byte) error { return pack.VerifyRecord(e, b) })
//
// # Placement
//
// [Coder.Place] puts shard i of a pack on ring position (start+i) mod n of
// the n stores, start taken from the pack ID, so a pack's shards are on
// distinct stores whenever n >= k+m and stores fill evenly. A write puts a
// shard whose store fails on another store instead (see [Redirect]), as long
// as no store then holds more than max(m, ⌈(k+m)/n⌉) shards of the pack,
// and passes over a failed store for [StoreRetryAfter]: one failed disk or
// bucket does not stop backups.
//
// # Reads
//
// [Coder.ReadRange] takes a record straight from the data shards; on a read
// failure or a failed record check it rebuilds just that byte range from k
// other shards, and if that too fails verification it falls back to whole,
// hash-verified shards. It never returns bytes that failed verification.
// [Coder.ReadPack] reads a whole pack; [Coder.ScrubPack] checks every shard
// and repairs bad ones in place. Every damaged shard a read or scrub meets is
// reported as a [Damage] (a callback and a log warning).
//
// A store that stops answering without refusing (an S3 endpoint behind a
// partition that drops packets) does not hold reads or writes: a range
// read rebuilds a piece that has not come after [DefaultHedgeAfter] from
// other shards, whole-shard reads ask one more shard, a shard put still
// running long after k others were durable goes elsewhere, and a store
// that lost that way is read and written around for a while
// ([UnreachableFor], [StoreRetryAfter]). Package repo applies the same
// rules to meta objects through [Coder.Stragglers], [Coder.SlowRead] and
// [Coder.ReadsGoAround].
//
// # Ordering
//
// [Coder.WritePack] returns only when every one of the k+m shards is
// durable on some store, and returns where each went. The caller commits the pack to the index after
// that, never before: a crash in between leaves orphan shards, which
// garbage collection removes, and the index never points at missing data.
// A failed write deletes what it wrote.
//
// # Neighbours
//
// Below: package format/shard (shard layout, headers, names, the
// Reed-Solomon code) and repo/backend (the stores). Above: package repo,
// which builds packs (format/pack), calls WritePack, records the placement
// in the index (format/indexkey PackRecord.Stores) and serves reads; gc
// deletes and repacks through DeletePack and ReadPack; index rebuilds use
// ListShards and ReadPack.
package erasure

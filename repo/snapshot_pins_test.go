package repo

import (
	"context"
	"errors"
	"testing"

	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// TestCommitTakesPresentPinsAsHeld: a commit for a session looks up only
// the references the session has no present pin for; plain pins (uploads)
// and other sessions' present pins do not count, and a reference nothing
// vouches for that the index lacks still fails the commit.
func TestCommitTakesPresentPinsAsHeld(t *testing.T) {
	ctx := context.Background()
	stores, _ := localStores(t, 6)
	r := openRepo(t, testConfig(t, stores, 4, 2))
	defer r.Close(ctx)
	repoID, err := r.CreateRepository(ctx, "iota")
	if err != nil {
		t.Fatal(err)
	}
	chunks := makeChunks(t, "present pins", 30_000, 64)
	putAll(t, r, repoID, chunks)
	_, ids := headerFor(t, chunks, "h")
	sid, other := indexkey.SessionID{1}, indexkey.SessionID{2}
	b := r.idx.NewBatch()
	for i, id := range ids {
		switch i % 4 {
		case 0, 1:
			b.PinPresent(repoID, sid, id)
		case 2:
			b.Pin(repoID, sid, id) // uploaded: a plain pin
		case 3:
			b.PinPresent(repoID, other, id)
		}
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	before := r.Stats()
	header, _ := headerFor(t, chunks, "h")
	if _, err := r.CommitSnapshotFor(ctx, repoID, sid, header, RefsFromSlice(ids)); err != nil {
		t.Fatal(err)
	}
	after := r.Stats()
	pinned, looked := after.CommitRefsPinned-before.CommitRefsPinned, after.CommitRefsLookedUp-before.CommitRefsLookedUp
	if want := uint64(len(ids)+3) / 4 * 2; pinned < want-2 || pinned > want || pinned+looked != uint64(len(ids)) {
		t.Fatalf("%d references: %d taken on present pins, %d looked up; want about %d on pins", len(ids), pinned, looked, want)
	}

	// A reference the index lacks, with a plain pin, fails the commit.
	absent := makeChunks(t, "never stored", 1, 64)[0].id
	b = r.idx.NewBatch()
	b.Pin(repoID, sid, absent)
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	more := append(chunks, chunk{id: absent})
	header, ids2 := headerFor(t, more, "h2")
	if _, err := r.CommitSnapshotFor(ctx, repoID, sid, header, RefsFromSlice(ids2)); !errors.Is(err, ErrMissingChunks) {
		t.Fatalf("commit with an absent reference pinned on upload: %v, want ErrMissingChunks", err)
	}
}

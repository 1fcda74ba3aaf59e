package index

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

func openPresence(t testing.TB, opts Options) *Index {
	t.Helper()
	x, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func randIDs(r *rand.Rand, n int) []format.ID {
	ids := make([]format.ID, n)
	for i := range ids {
		for j := 0; j < len(ids[i]); j += 8 {
			binary.LittleEndian.PutUint64(ids[i][j:], r.Uint64())
		}
	}
	return ids
}

func commitChunks(t testing.TB, x *Index, repo uint32, put, del []format.ID) {
	t.Helper()
	if err := tryCommit(x, repo, put, del); err != nil {
		t.Fatal(err)
	}
}

func tryCommit(x *Index, repo uint32, put, del []format.ID) error {
	b := x.NewBatch()
	for i, id := range put {
		b.PutChunk(repo, id, indexkey.ChunkLoc{Offset: uint64(i), Length: 1})
	}
	for _, id := range del {
		b.DeleteChunk(repo, id)
	}
	return b.Commit(true)
}

// fromPebble is Missing answered by Pebble alone: the truth.
func fromPebble(t testing.TB, x *Index, repo uint32, ids []format.ID) []format.ID {
	t.Helper()
	s := x.getScratch(len(ids))
	defer x.scratch.Put(s)
	if err := x.walk(repo, ids, s, nil); err != nil {
		t.Fatal(err)
	}
	return collectMissing(ids, s)
}

// fromPresence is Missing answered by the presence table alone; ok is
// false when it had no table to answer from.
func fromPresence(x *Index, repo uint32, ids []format.ID) (missing []format.ID, ok bool) {
	s := x.getScratch(len(ids))
	defer x.scratch.Put(s)
	sortIDs(ids, s)
	if !x.presence.lookup(repo, ids, s) {
		return nil, false
	}
	return collectMissing(ids, s), true
}

func collectMissing(ids []format.ID, s *scratch) []format.ID {
	var missing []format.ID
	for i := range ids {
		if s.have[i>>6]&(1<<(i&63)) == 0 {
			missing = append(missing, ids[i])
		}
	}
	return missing
}

// waitBuilds asks until the presence table has been built at least n times.
func waitBuilds(t testing.TB, x *Index, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	probe := []format.ID{{1}}
	for {
		st := x.presence.statsNow()
		if st.Ready && st.Builds >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence table: %d builds, want %d (%+v)", st.Builds, n, st)
		}
		fromPresence(x, 1, probe) // starts a build when one is due
		time.Sleep(2 * time.Millisecond)
	}
}

// mixed returns the IDs of have in random order, shuffled with as many
// absent ones and a few repeats of both.
func mixed(r *rand.Rand, have []format.ID, absent int) []format.ID {
	ids := slices.Concat(have, randIDs(r, absent))
	for i := 0; i < len(ids)/20; i++ {
		ids = append(ids, ids[r.IntN(len(ids))])
	}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

// answered is the presence table's answer for ids. A table installed or
// dropped during a lookup hands the batch to Pebble; the next lookup gets
// the new table, so it asks again a few times before it gives up.
func answered(t *testing.T, x *Index, repo uint32, ids []format.ID) []format.ID {
	t.Helper()
	for try := 0; try < 50; try++ {
		if got, ok := fromPresence(x, repo, ids); ok {
			return got
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("presence table did not answer")
	return nil
}

// checkAgainstPebble fails unless the presence table answers exactly as
// Pebble does for ids.
func checkAgainstPebble(t *testing.T, x *Index, repo uint32, ids []format.ID) {
	t.Helper()
	want := fromPebble(t, x, repo, ids)
	got := answered(t, x, repo, ids)
	if !slices.Equal(got, want) {
		t.Fatalf("repo %d: presence says %d of %d missing, Pebble %d", repo, len(got), len(ids), len(want))
	}
}

func TestPresenceAnswersAsPebble(t *testing.T) {
	x := openPresence(t, Options{})
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randIDs(r, 5000), randIDs(r, 300)
	commitChunks(t, x, 1, a, nil)
	commitChunks(t, x, 2, b, nil)
	waitBuilds(t, x, 1)

	checkAgainstPebble(t, x, 1, mixed(r, a, 5000))
	checkAgainstPebble(t, x, 2, mixed(r, b, 300))
	checkAgainstPebble(t, x, 2, a[:100]) // another repository's IDs
	checkAgainstPebble(t, x, 3, a[:100]) // a repository with no chunks
	if got := answered(t, x, 1, a); len(got) != 0 {
		t.Fatalf("%d of the stored IDs missing", len(got))
	}

	// Changes after the build come from the delta: deletions must never
	// read as present, puts must read as present at once.
	added := randIDs(r, 500)
	commitChunks(t, x, 1, added, a[:700])
	checkAgainstPebble(t, x, 1, mixed(r, slices.Concat(a[:1000], added), 1000))
	if got := answered(t, x, 1, a[:700]); len(got) != 700 {
		t.Fatalf("%d of 700 deleted IDs missing", len(got))
	}
	commitChunks(t, x, 1, a[:10], nil) // put back
	checkAgainstPebble(t, x, 1, a[:800])

	st, err := x.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Presence; !p.Ready || p.Entries != 5300 || p.Answered == 0 || p.Reads == 0 || p.Delta == 0 || p.Confirmed < 500 {
		t.Fatalf("stats %+v", p)
	}
}

func TestPresenceRebuildKeepsAnswers(t *testing.T) {
	x := openPresence(t, Options{})
	x.presence.rebuildMin, x.presence.rebuildMax = 200, 200
	r := rand.New(rand.NewPCG(3, 4))
	live := randIDs(r, 2000)
	commitChunks(t, x, 1, live, nil)
	waitBuilds(t, x, 1)
	var gone []format.ID
	for round := range 10 {
		added := randIDs(r, 150)
		commitChunks(t, x, 1, added, live[:100])
		gone, live = append(gone, live[:100]...), append(live[100:], added...)
		// Ask while the next build may be running: answers come from the
		// delta, the frozen delta and the old table.
		checkAgainstPebble(t, x, 1, mixed(r, live, 500))
		if got := answered(t, x, 1, gone); len(got) != len(gone) {
			t.Fatalf("round %d: %d of %d deleted IDs read as present", round, len(gone)-len(got), len(gone))
		}
	}
	waitBuilds(t, x, 3)
	checkAgainstPebble(t, x, 1, mixed(r, slices.Concat(live, gone), 500))
}

// TestPresenceConcurrent commits, deletes, asks and rebuilds at once. Each
// writer owns its IDs, so once its commit returns, the answer for them is
// known: present after a put, missing after a delete.
func TestPresenceConcurrent(t *testing.T) {
	x := openPresence(t, Options{})
	x.presence.rebuildMin, x.presence.rebuildMax = 64, 64
	const writers, rounds = 4, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			var live []format.ID
			for round := range rounds {
				added := randIDs(r, 50)
				var del []format.ID
				if round%3 == 2 {
					del, live = live[:30], live[30:]
				}
				if err := tryCommit(x, 1, added, del); err != nil {
					errs <- err
					return
				}
				live = append(live, added...)
				got, ok := fromPresence(x, 1, slices.Concat(live, del))
				if !ok {
					got, _ = x.Missing(1, slices.Concat(live, del), nil)
				}
				if !slices.Equal(got, del) {
					errs <- errors.New("a writer's own IDs answered wrongly after its commit")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := x.presence.statsNow(); st.Builds < 2 {
		t.Fatalf("only %d builds: the test did not race builds against commits", st.Builds)
	}
}

func TestPresenceFallsBackToPebble(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		x := openPresence(t, Options{PresenceMemory: -1})
		commitChunks(t, x, 1, randIDs(rand.New(rand.NewPCG(5, 5)), 10), nil)
		if missing, err := x.Missing(1, []format.ID{{7}}, nil); err != nil || len(missing) != 1 {
			t.Fatal(missing, err)
		}
		if st, _ := x.Stats(); st.Presence != (PresenceStats{}) {
			t.Fatalf("presence off but stats %+v", st.Presence)
		}
	})
	t.Run("build fails", func(t *testing.T) {
		x := openPresence(t, Options{})
		build := x.presence.build
		x.presence.build = func(ctx context.Context, snap *pebble.Snapshot) (*ptable, error) {
			return nil, errors.New("disk full")
		}
		r := rand.New(rand.NewPCG(6, 6))
		ids := randIDs(r, 100)
		commitChunks(t, x, 1, ids, nil)
		missingEquals(t, x, mixed(r, ids, 100))
		waitFor(t, func() bool { return x.presence.statsNow().Errors == 1 })
		missingEquals(t, x, mixed(r, ids, 100))
		// A later build succeeds once the retry delay has passed.
		x.presence.build = build
		x.presence.mu.Lock()
		x.presence.retryAt = time.Time{}
		x.presence.mu.Unlock()
		waitBuilds(t, x, 1)
		checkAgainstPebble(t, x, 1, mixed(r, ids, 100))
	})
	t.Run("read fails", func(t *testing.T) {
		x := openPresence(t, Options{})
		r := rand.New(rand.NewPCG(7, 7))
		ids := randIDs(r, 100)
		commitChunks(t, x, 1, ids, nil)
		waitBuilds(t, x, 1)
		x.presence.mu.Lock()
		x.presence.table.fd = -1 // every read now fails with EBADF
		x.presence.mu.Unlock()
		missingEquals(t, x, mixed(r, ids, 100))
		if st := x.presence.statsNow(); st.Drops != 1 {
			t.Fatalf("a failed read should drop the table: %+v", st)
		}
		waitBuilds(t, x, 2)
		checkAgainstPebble(t, x, 1, mixed(r, ids, 100))
	})
	t.Run("deletions overflow", func(t *testing.T) {
		x := openPresence(t, Options{})
		x.presence.deletedMax = 50
		r := rand.New(rand.NewPCG(8, 8))
		ids := randIDs(r, 100)
		commitChunks(t, x, 1, ids, nil)
		waitBuilds(t, x, 1)
		more := randIDs(r, 60)
		commitChunks(t, x, 1, more, ids[:40])
		if st := x.presence.statsNow(); !st.Ready || st.Drops != 0 {
			t.Fatalf("40 deletions are within the bound: %+v", st)
		}
		commitChunks(t, x, 1, nil, ids[40:51])
		if st := x.presence.statsNow(); st.Ready || st.Drops != 1 || st.Delta != 0 {
			t.Fatalf("overflow should drop the table and the delta: %+v", st)
		}
		missingEquals(t, x, mixed(r, slices.Concat(ids, more), 100))
		waitBuilds(t, x, 2)
		checkAgainstPebble(t, x, 1, mixed(r, slices.Concat(ids, more), 100))
	})
}

// missingEquals checks Index.Missing, whichever way it answers, against
// Pebble alone.
func missingEquals(t *testing.T, x *Index, ids []format.ID) {
	t.Helper()
	got, err := x.Missing(1, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := fromPebble(t, x, 1, ids); !slices.Equal(got, want) {
		t.Fatalf("Missing: %d missing, Pebble %d", len(got), len(want))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20 s")
		}
	}
}

// TestPresenceEqualFences stores IDs that share their first 8 bytes across
// span boundaries: the fences alone cannot tell which span holds them.
func TestPresenceEqualFences(t *testing.T) {
	x := openPresence(t, Options{})
	r := rand.New(rand.NewPCG(9, 9))
	ids := randIDs(r, 200)
	for i := 50; i < 120; i++ { // 70 IDs, over four spans of 16
		copy(ids[i][:8], ids[49][:8])
	}
	commitChunks(t, x, 1, ids, nil)
	waitBuilds(t, x, 1)
	if got := answered(t, x, 1, ids); len(got) != 0 {
		t.Fatalf("%d stored IDs missing", len(got))
	}
	absent := randIDs(r, 50)
	for i := range absent {
		copy(absent[i][:8], ids[49][:8])
	}
	checkAgainstPebble(t, x, 1, slices.Concat(ids, absent))
}

func TestPresenceLayoutBoundsMemory(t *testing.T) {
	for _, budget := range []int64{1 << 20, 64 << 20} {
		for entries := int64(1); entries < 1<<34; entries *= 7 {
			span, bits := layout(entries, budget)
			fences := (entries + span - 1) / span * 8
			if mem := fences + entries*bits/8; mem > budget+8 {
				t.Fatalf("%d entries, budget %d: %d bytes (span %d, %d bits/key)", entries, budget, mem, span, bits)
			}
		}
	}
	if span, bits := layout(10_000_000, DefaultPresenceMemory); span != minSpan || bits != filterBitsPerKey {
		t.Fatalf("10 M chunks in the default budget: span %d, %d bits/key", span, bits)
	}
}

func TestPresenceRestart(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := randIDs(rand.New(rand.NewPCG(10, 10)), 100)
	commitChunks(t, x, 1, ids, nil)
	waitBuilds(t, x, 1)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "presence-123.tmp") // as a crash leaves it
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale table file left: %v", err)
	}
	waitBuilds(t, x, 1)
	checkAgainstPebble(t, x, 1, ids)
	names, _ := filepath.Glob(filepath.Join(dir, presenceFilePattern))
	if len(names) != 0 {
		t.Fatalf("table file has a name: %v", names)
	}
}

// TestPresenceDeleteIsMissingBeforeCommitReturns looks up a chunk between
// the Pebble commit that deletes it and the return of Commit: it must
// already read as missing (the delta took the deletion before the
// commit), or a client could be told to skip a chunk that is gone.
func TestPresenceDeleteIsMissingBeforeCommitReturns(t *testing.T) {
	x := openPresence(t, Options{})
	ids := randIDs(rand.New(rand.NewPCG(11, 11)), 50)
	commitChunks(t, x, 1, ids, nil)
	waitBuilds(t, x, 1)
	b := x.db.NewBatch()
	if err := b.Delete(indexkey.ChunkKey(1, ids[0]), nil); err != nil {
		t.Fatal(err)
	}
	var during []format.ID
	err := x.presence.commit([]chunkOp{{chunkRef{1, ids[0]}, true}}, func() error {
		if err := b.Commit(pebble.Sync); err != nil {
			return err
		}
		during, _ = fromPresence(x, 1, ids[:1])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 {
		t.Fatal("a deleted chunk read as present before its commit returned")
	}
}

// TestPresenceCloseDuringBuild closes the index while a build may still be
// scanning: Close waits for it, and nothing is left running.
func TestPresenceCloseDuringBuild(t *testing.T) {
	x, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(13, 13))
	for range 4 { // past the 64k keys at which a build looks for Close
		commitChunks(t, x, 1, randIDs(r, 20_000), nil)
	}
	before := runtime.NumGoroutine()
	fromPresence(x, 1, []format.ID{{1}}) // starts the build
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before the build", n, before)
	}
	if _, err := x.Missing(1, []format.ID{{1}}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Missing after Close: %v", err)
	}
}

// TestPresenceFailedDeleteDropsTable: a batch of deletions that fails to
// commit leaves its chunks in Pebble, so the table, which recorded them as
// deleted, must not answer for them: a snapshot commit that references
// them would be refused.
func TestPresenceFailedDeleteDropsTable(t *testing.T) {
	x := openPresence(t, Options{})
	ids := randIDs(rand.New(rand.NewPCG(14, 14)), 20)
	commitChunks(t, x, 1, ids, nil)
	waitBuilds(t, x, 1)
	err := x.presence.commit([]chunkOp{{chunkRef{1, ids[0]}, true}}, func() error {
		return errors.New("WAL sync failed")
	})
	if err == nil {
		t.Fatal("the failure was not returned")
	}
	if st := x.presence.statsNow(); st.Ready || st.Drops != 1 {
		t.Fatalf("table kept after a failed delete: %+v", st)
	}
	missingEquals(t, x, ids)
}

// TestPresencePutSinceNeedsItsTable: once the table a lookup started with
// is replaced or dropped, its put filters are gone, so the lookup hands
// the batch to Pebble rather than call a chunk put since then missing.
func TestPresencePutSinceNeedsItsTable(t *testing.T) {
	x := openPresence(t, Options{})
	r := rand.New(rand.NewPCG(15, 15))
	commitChunks(t, x, 1, randIDs(r, 10), nil)
	waitBuilds(t, x, 1)
	put := randIDs(r, 1)
	commitChunks(t, x, 1, put, nil) // since the snapshot: in the put filter only
	s := x.getScratch(1)
	defer x.scratch.Put(s)
	sortIDs(put, s)
	tab, ok := x.presence.fromDeltas(1, put, s)
	if !ok {
		t.Fatal("no table")
	}
	defer tab.release()
	if !x.presence.putSince(tab, 1, put, s) || !s.p.maybe[0] {
		t.Fatal("the put since the snapshot is not in the put filter")
	}
	x.presence.mu.Lock()
	x.presence.dropLocked("test")
	x.presence.mu.Unlock()
	if x.presence.putSince(tab, 1, put, s) {
		t.Fatal("putSince answered for a table that is gone")
	}
}

// TestPresenceWindowBounded: long spans (a small memory bound for many
// chunks) put fewer reads in a window, never more than maxWindow of
// buffer, and at least one.
func TestPresenceWindowBounded(t *testing.T) {
	for _, span := range []int64{minSpan, 64, 1024, 1 << 16} {
		tab := &ptable{span: span}
		n := tab.windowSlots()
		if n < 1 || n > ringEntries || (n > 1 && n*tab.spanBytes() > maxWindow) {
			t.Errorf("span %d: %d slots of %d bytes", span, n, tab.spanBytes())
		}
	}
	if n := (&ptable{span: minSpan}).windowSlots(); n != ringEntries {
		t.Errorf("default span: %d slots, want a ring's %d", n, ringEntries)
	}
}

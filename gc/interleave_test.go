package gc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
)

// client replays the server's upload protocol (server/upload.go) on the
// engine: each step holds the GC guard shared exactly as the handler does.
type client struct {
	f      *fixture
	sid    indexkey.SessionID
	chunks []chunk
	want   map[format.ID]bool // IDs FilterMissing reported missing
}

func (c *client) begin() {
	b := c.f.r.Index().NewBatch()
	defer b.Close()
	b.PutSession(c.f.repoID, c.sid, indexkey.SessionRecord{Created: time.Now(), Lease: time.Now().Add(time.Hour)})
	if err := b.Commit(true); err != nil {
		c.f.t.Fatal(err)
	}
}

func (c *client) pin(ids []format.ID) {
	b := c.f.r.Index().NewBatch()
	defer b.Close()
	for _, id := range ids {
		b.Pin(c.f.repoID, c.sid, id)
	}
	if err := b.Commit(true); err != nil {
		c.f.t.Fatal(err)
	}
}

// filterMissing: presence check and pins of the present, one guarded step.
func (c *client) filterMissing() {
	release := c.f.r.GCShared(c.f.repoID)
	defer release()
	ids := idsOf(c.chunks)
	missing, err := c.f.r.Missing(c.f.repoID, ids)
	if err != nil {
		c.f.t.Fatal(err)
	}
	c.want = map[format.ID]bool{}
	var present []format.ID
	j := 0
	for _, id := range ids {
		if j < len(missing) && missing[j] == id {
			c.want[id] = true
			j++
			continue
		}
		present = append(present, id)
	}
	c.pin(present)
}

// putChunks uploads what was missing: dedup checks and pins, one step.
func (c *client) putChunks() {
	release := c.f.r.GCShared(c.f.repoID)
	defer release()
	var ids []format.ID
	for _, ch := range c.chunks {
		if c.want[ch.id] {
			if _, err := c.f.r.PutChunk(context.Background(), c.f.repoID, ch.id, ch.envelope); err != nil {
				c.f.t.Fatal(err)
			}
			ids = append(ids, ch.id)
		}
	}
	c.pin(ids)
}

// commit commits and ends the session.
func (c *client) commit() error {
	_, err := c.f.tryCommit(c.chunks, "client")
	b := c.f.r.Index().NewBatch()
	defer b.Close()
	b.UnpinAll(c.f.repoID, c.sid)
	b.DeleteSession(c.f.repoID, c.sid)
	if cerr := b.Commit(false); cerr != nil {
		c.f.t.Fatal(cerr)
	}
	return err
}

// interleaveSetup: snapshot "old" (forgotten before GC) owns x; "keep"
// owns y, in the same packs, so the packs turn sparse or empty. The client
// backs up part of x (dedup against dying chunks) plus new chunks z.
func interleaveSetup(t *testing.T) (*fixture, *client, []chunk) {
	f := newFixture(t, 24<<10)
	x, y, z := makeChunks(t, "x", 12, 3<<10), makeChunks(t, "y", 3, 3<<10), makeChunks(t, "z", 4, 3<<10)
	f.put(append(append([]chunk{}, x...), y...))
	old := f.commit(append(append([]chunk{}, x...), y...), "old")
	f.commit(y, "keep")
	f.forget(old)
	c := &client{f: f, sid: indexkey.SessionID{7}, chunks: append(append([]chunk{}, x[2:9]...), z...)}
	c.begin()
	return f, c, append(append([]chunk{}, y...), c.chunks...)
}

// gcSteps counts the hook points of one GC over the setup.
func gcSteps(t *testing.T) []string {
	f, _, _ := interleaveSetup(t)
	var steps []string
	o := later()
	o.hook = func(s string) { steps = append(steps, s) }
	f.gc(o)
	return steps
}

// TestInterleavings steps a GC and the client's FilterMissing, PutChunks,
// Commit through every interleaving of the client's three steps with the
// GC's step boundaries, and checks after each: the commit succeeded (an
// honest client is never refused), no snapshot references a chunk the
// index lacks, nothing dangles, every chunk of every snapshot reads back
// bit-exact — and the same after a second GC.
func TestInterleavings(t *testing.T) {
	steps := gcSteps(t)
	p := len(steps)
	runs := 0
	for a := 0; a <= p; a++ {
		for b := a; b <= p; b++ {
			for c := b; c <= p; c++ {
				runs++
				at := [3]int{a, b, c}
				t.Run(fmt.Sprintf("%d-%d-%d", a, b, c), func(t *testing.T) { interleaving(t, at) })
			}
		}
	}
	t.Logf("%d GC step boundaries, %d interleavings", p, runs)
}

func interleaving(t *testing.T, at [3]int) {
	f, cl, live := interleaveSetup(t)
	var commitErr error
	ops := []func(){cl.filterMissing, cl.putChunks, func() { commitErr = cl.commit() }}
	next := 0
	runUpTo := func(point int) {
		for next < 3 && at[next] <= point {
			ops[next]()
			next++
		}
	}
	runUpTo(0)
	point := 0
	o := later()
	o.hook = func(string) {
		point++
		runUpTo(point)
	}
	f.gc(o)
	runUpTo(1 << 30)
	if commitErr != nil {
		t.Fatalf("honest commit refused: %v", commitErr)
	}
	f.consistent()
	f.mustRead(live)
	f.gc(later())
	f.consistent()
	f.mustRead(live)
}

// TestInterleavingsAbandoned: the client's pins vanish (session expired)
// between FilterMissing and Commit. The commit may then be refused, but
// if it succeeds, every chunk it references is indexed and readable.
func TestInterleavingsAbandoned(t *testing.T) {
	p := len(gcSteps(t))
	for a := 0; a <= p; a++ {
		for c := a; c <= p; c++ {
			t.Run(fmt.Sprintf("%d-%d", a, c), func(t *testing.T) {
				f, cl, _ := interleaveSetup(t)
				var commitErr error
				expire := func() {
					b := f.r.Index().NewBatch()
					b.UnpinAll(f.repoID, cl.sid)
					if err := b.Commit(true); err != nil {
						t.Fatal(err)
					}
				}
				ops := []func(){func() { cl.filterMissing(); cl.putChunks(); expire() }, func() { commitErr = cl.commit() }}
				at := [2]int{a, c}
				next, point := 0, 0
				runUpTo := func(pt int) {
					for next < 2 && at[next] <= pt {
						ops[next]()
						next++
					}
				}
				runUpTo(0)
				o := later()
				o.hook = func(string) { point++; runUpTo(point) }
				f.gc(o)
				runUpTo(1 << 30)
				if commitErr != nil && !errors.Is(commitErr, repo.ErrMissingChunks) {
					t.Fatal(commitErr)
				}
				f.consistent()
				if commitErr == nil {
					f.mustRead(cl.chunks)
				}
			})
		}
	}
}

package server

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
)

// TestStoreAvailableMetric: holdfast_store_available says 1 for each local
// store, 0 for one whose directory is gone, and 1 again once it is back.
func TestStoreAvailableMetric(t *testing.T) {
	f := newUpFixture(t, upOptions{local: true})
	scrape := func() string {
		var b bytes.Buffer
		f.srv.metrics.write(&b)
		return b.String()
	}
	want := func(lines ...string) {
		t.Helper()
		got := scrape()
		for _, l := range lines {
			if !strings.Contains(got, l+"\n") {
				t.Fatalf("metrics lack %q:\n%s", l, got)
			}
		}
	}
	want(`holdfast_store_available{store="0"} 1`, `holdfast_store_available{store="1"} 1`, `holdfast_store_available{store="2"} 1`)
	dir := f.stores[1].Backend.(*local.Backend).String()
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	want(`holdfast_store_available{store="0"} 1`, `holdfast_store_available{store="1"} 0`)
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	want(`holdfast_store_available{store="1"} 1`)
}

// TestShardsRedirectedMetric: with one of four local stores (2+1) gone,
// uploads go on and holdfast_shards_redirected_total counts the shards
// written to another store than their placed one.
func TestShardsRedirectedMetric(t *testing.T) {
	f := newUpFixture(t, upOptions{local: true, stores: 4})
	var b bytes.Buffer
	f.srv.metrics.write(&b)
	if !strings.Contains(b.String(), "holdfast_shards_redirected_total 0\n") ||
		!strings.Contains(b.String(), "holdfast_reads_hedged_total 0\n") {
		t.Fatalf("metrics before any write:\n%s", b.String())
	}
	dir := f.stores[1].Backend.(*local.Backend).String()
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	chunks := storeFakeChunks(t, f, 40, 64<<10)
	f.client(f.restore, false).mustReadBack(t, chunks)
	b.Reset()
	f.srv.metrics.write(&b)
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "holdfast_shards_redirected_total "); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	if n == 0 {
		t.Fatalf("no redirected shard counted with a store gone:\n%s", b.String())
	}
}

// TestPresenceMetrics: FilterMissing builds the index's presence table
// and is then answered from it, which the metrics show.
func TestPresenceMetrics(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	chunks := storeFakeChunks(t, f, 40, 16<<10)
	ids := make([]format.ID, len(chunks))
	for i := range chunks {
		ids[i] = chunks[i].id
	}
	metric := func(name string) int {
		var b bytes.Buffer
		f.srv.metrics.write(&b)
		for _, line := range strings.Split(b.String(), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Fatalf("no %s in the metrics:\n%s", name, b.String())
		return 0
	}
	if metric("holdfast_index_presence_ready") != 0 {
		t.Fatal("presence table ready before any lookup")
	}
	for deadline := time.Now().Add(20 * time.Second); metric("holdfast_index_presence_ready") != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("presence table not ready after 20 s")
		}
		if _, err := f.eng.Missing(f.id, ids[:1]); err != nil { // the first starts the build
			t.Fatal(err)
		}
	}
	if n := metric("holdfast_index_presence_entries"); n != len(chunks) {
		t.Fatalf("presence table holds %d chunks, want %d", n, len(chunks))
	}
	before := metric("holdfast_index_presence_answered_total")
	missing, err := f.eng.Missing(f.id, ids)
	if err != nil || len(missing) != 0 {
		t.Fatalf("missing %d of the stored chunks: %v", len(missing), err)
	}
	if got := metric("holdfast_index_presence_answered_total") - before; got != len(chunks) {
		t.Fatalf("presence table answered %d IDs, want %d", got, len(chunks))
	}
}

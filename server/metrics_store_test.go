package server

import (
	"bytes"
	"os"
	"strings"
	"testing"

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

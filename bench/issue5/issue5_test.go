package issue5

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/bench/dataset"
)

// TestRunSmall runs the whole scenario on a 24 MiB data set with the real
// binaries: the restore must be bit-exact, the unchanged backup must read
// nothing, and the report must carry every phase. Throughput limits are
// not checked at this size.
func TestRunSmall(t *testing.T) {
	res, err := Run(context.Background(), Config{WorkDir: t.TempDir(), Dataset: dataset.Config{Size: 24 << 20, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RestoreVerify != nil {
		t.Errorf("restore: %v", res.RestoreVerify)
	}
	if s := res.Unchanged.Summary; s.BytesRead != 0 || s.BytesUploaded != 0 {
		t.Errorf("unchanged backup read %d, uploaded %d", s.BytesRead, s.BytesUploaded)
	}
	if s := res.Changed.Summary; s.BytesUploaded == 0 || s.FilesChanged == 0 {
		t.Errorf("changed backup: %+v", s)
	}
	if res.Full.Summary.Size != res.Bytes || res.Blake3MBps <= 0 {
		t.Errorf("size %d of %d, blake3 %.0f MB/s", res.Full.Summary.Size, res.Bytes, res.Blake3MBps)
	}
	if res.Full.ClientFaults <= 0 || res.Full.ServerFaults <= 0 {
		t.Errorf("first backup: %d client and %d server page faults counted", res.Full.ClientFaults, res.Full.ServerFaults)
	}
	var out bytes.Buffer
	Report(&out, []*Result{res})
	for _, want := range []string{"full", "unchanged", "changed", "restore", "blake3", "restore bit-exact", "faults c/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

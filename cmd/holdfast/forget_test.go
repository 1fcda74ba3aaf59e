package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestPrintForget: the text output names what goes and why the rest stays.
func TestPrintForget(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	v := func(b byte, reasons ...string) *holdfastv1.SnapshotVerdict {
		id := bytes.Repeat([]byte{b}, 32)
		return &holdfastv1.SnapshotVerdict{Id: id, TimeUnixNano: at, Host: "web01", SourceKind: "path", SourceName: "/srv", Tags: []string{"daily"}, Reasons: reasons}
	}
	var out bytes.Buffer
	err := printForget(&out, &holdfastv1.ForgetResponse{DryRun: true,
		Kept:    []*holdfastv1.SnapshotVerdict{v(0xaa, "last snapshot", "daily snapshot")},
		Removed: []*holdfastv1.SnapshotVerdict{v(0xbb, "policy")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{"Keeping 1 snapshot(s)", "aaaaaaaa", "last snapshot, daily snapshot", "Would remove 1 snapshot(s)", "bbbbbbbb", "path:/srv", "2026-03-01T12:00:00Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

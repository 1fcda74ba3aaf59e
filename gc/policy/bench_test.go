package policy

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"
)

// benchSnaps is 10,000 snapshots: hourly backups of 4 sources over 14
// months.
func benchSnaps() []Snapshot {
	out := make([]Snapshot, 10000)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = Snapshot{ID: fmt.Sprintf("%08d", i), Time: start.Add(time.Duration(i/4) * time.Hour),
			Host: fmt.Sprint("host", i%2), SourceKind: "path", SourceName: fmt.Sprint("/data", i%4)}
	}
	return out
}

// BenchmarkApply evaluates a typical policy over 10,000 snapshots.
func BenchmarkApply(b *testing.B) {
	snaps := benchSnaps()
	p := Policy{Last: 24, Daily: 7, Weekly: 5, Monthly: 12, Yearly: Unlimited}
	b.ReportAllocs()
	for b.Loop() {
		Apply(snaps, p, time.Now())
	}
}

// BenchmarkSortBaseline sorts the same snapshots newest first, the floor
// under any evaluation that orders them.
func BenchmarkSortBaseline(b *testing.B) {
	snaps := benchSnaps()
	b.ReportAllocs()
	for b.Loop() {
		s := slices.Clone(snaps)
		slices.SortFunc(s, func(a, b Snapshot) int { return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(a.ID, b.ID)) })
	}
}

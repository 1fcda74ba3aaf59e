package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// at parses "2026-01-02 15:04" as UTC.
func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// snaps builds snapshots of host h1, source path:/data, named by their
// times ("2026-01-02 15:04" → ID "01-02 15:04").
func snaps(times ...string) []Snapshot {
	out := make([]Snapshot, len(times))
	for i, s := range times {
		out[i] = Snapshot{ID: s[5:], Time: at(s), Host: "h1", SourceKind: "path", SourceName: "/data"}
	}
	return out
}

// kept returns the IDs kept, newest first, each with its reasons joined
// by "+".
func kept(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		if d.Keep {
			out = append(out, d.ID+" "+strings.Join(d.Reasons, "+"))
		}
	}
	return out
}

var now = at("2030-01-01 00:00")

func TestApply(t *testing.T) {
	// Two snapshots a day, 08:00 and 20:00, 2026-03-01 … 2026-03-05.
	var twiceDaily []string
	for d := 1; d <= 5; d++ {
		twiceDaily = append(twiceDaily, fmt.Sprintf("2026-03-%02d 08:00", d), fmt.Sprintf("2026-03-%02d 20:00", d))
	}
	cases := []struct {
		name  string
		snaps []Snapshot
		p     Policy
		want  []string
	}{
		{"keep-last 3 of 5", snaps("2026-01-01 00:00", "2026-01-02 00:00", "2026-01-03 00:00", "2026-01-04 00:00", "2026-01-05 00:00"),
			Policy{Last: 3}, []string{"01-05 00:00 last snapshot", "01-04 00:00 last snapshot", "01-03 00:00 last snapshot"}},
		{"keep-last more than there are", snaps("2026-01-01 00:00", "2026-01-02 00:00"),
			Policy{Last: 5}, []string{"01-02 00:00 last snapshot", "01-01 00:00 last snapshot"}},
		{"keep-daily 3 keeps the newest of each of the 3 newest days", snaps(twiceDaily...),
			Policy{Daily: 3}, []string{"03-05 20:00 daily snapshot", "03-04 20:00 daily snapshot", "03-03 20:00 daily snapshot"}},
		{"keep-daily with count left also keeps the oldest (restic)", snaps("2026-03-01 08:00", "2026-03-01 20:00", "2026-03-02 08:00", "2026-03-02 20:00"),
			Policy{Daily: 10}, []string{"03-02 20:00 daily snapshot", "03-01 20:00 daily snapshot", "03-01 08:00 daily snapshot"}},
		{"keep-daily unlimited", snaps(twiceDaily[:6]...),
			Policy{Daily: Unlimited}, []string{"03-03 20:00 daily snapshot", "03-02 20:00 daily snapshot", "03-01 20:00 daily snapshot", "03-01 08:00 daily snapshot"}},
		{"keep-hourly 2", snaps("2026-01-01 10:05", "2026-01-01 10:45", "2026-01-01 11:10", "2026-01-01 11:50", "2026-01-01 12:00"),
			Policy{Hourly: 2}, []string{"01-01 12:00 hourly snapshot", "01-01 11:50 hourly snapshot"}},
		// 2026-03-01 is a Sunday (ISO week 9), 2026-03-02 a Monday (week 10).
		{"keep-weekly uses ISO weeks (Monday starts a week)", snaps("2026-02-22 12:00", "2026-02-28 12:00", "2026-03-01 12:00", "2026-03-02 12:00", "2026-03-08 12:00"),
			Policy{Weekly: 2}, []string{"03-08 12:00 weekly snapshot", "03-01 12:00 weekly snapshot"}},
		// ISO week 1 of 2027 starts on Monday 2027-01-04; 2027-01-02 is in week 53 of 2026.
		{"keep-weekly across the ISO year boundary", snaps("2026-12-28 12:00", "2027-01-02 12:00", "2027-01-04 12:00"),
			Policy{Weekly: 2}, []string{"01-04 12:00 weekly snapshot", "01-02 12:00 weekly snapshot"}},
		{"keep-monthly 2", snaps("2026-01-10 00:00", "2026-01-31 23:59", "2026-02-01 00:00", "2026-02-27 00:00", "2026-03-15 00:00"),
			Policy{Monthly: 2}, []string{"03-15 00:00 monthly snapshot", "02-27 00:00 monthly snapshot"}},
		{"keep-yearly 2", snaps("2024-06-01 00:00", "2025-01-01 00:00", "2025-12-31 23:00", "2026-07-01 00:00"),
			Policy{Yearly: 2}, []string{"07-01 00:00 yearly snapshot", "12-31 23:00 yearly snapshot"}},
		{"rules combine and each names its reason", snaps(twiceDaily[:6]...),
			Policy{Last: 2, Daily: 2}, []string{"03-03 20:00 last snapshot+daily snapshot", "03-03 08:00 last snapshot", "03-02 20:00 daily snapshot"}},
		{"keep-within counts from the group's newest snapshot, not from now", snaps("2026-01-01 00:00", "2026-01-09 00:00", "2026-01-10 00:00", "2026-01-12 00:00"),
			Policy{Within: Span{Days: 3}}, []string{"01-12 00:00 within 3d of the newest", "01-10 00:00 within 3d of the newest"}},
		// A month back from 31 March is "31 February", which the calendar
		// normalises to 3 March; a fixed 30 days would reach 1 March.
		{"keep-within 1m uses the calendar", snaps("2026-03-02 12:00", "2026-03-03 12:00", "2026-03-31 00:00"),
			Policy{Within: Span{Months: 1}}, []string{"03-31 00:00 within 1m of the newest", "03-03 12:00 within 1m of the newest"}},
		{"equal times: ties broken by ID", []Snapshot{{ID: "b", Time: at("2026-01-01 00:00")}, {ID: "a", Time: at("2026-01-01 00:00")}},
			Policy{Last: 1}, []string{"a last snapshot"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := kept(Apply(c.snaps, c.p, now))
			if !slices.Equal(got, c.want) {
				t.Fatalf("kept\n  %q\nwant\n  %q", got, c.want)
			}
			// The input order does not matter.
			rev := slices.Clone(c.snaps)
			slices.Reverse(rev)
			if again := kept(Apply(rev, c.p, now)); !slices.Equal(again, got) {
				t.Fatalf("reversed input kept %q", again)
			}
		})
	}
}

// TestBucketsUseUTC: a snapshot taken at 23:30 in New York on 1 March is
// 04:30 UTC on 2 March, so it shares the 2 March bucket.
func TestBucketsUseUTC(t *testing.T) {
	ny := time.FixedZone("EST", -5*3600)
	list := []Snapshot{
		{ID: "ny-evening", Time: time.Date(2026, 3, 1, 23, 30, 0, 0, ny)},
		{ID: "utc-noon", Time: at("2026-03-02 12:00")},
		{ID: "older", Time: at("2026-03-01 12:00")},
		{ID: "oldest", Time: at("2026-02-28 12:00")},
	}
	got := kept(Apply(list, Policy{Daily: 2}, now))
	want := []string{"utc-noon daily snapshot", "older daily snapshot"}
	if !slices.Equal(got, want) {
		t.Fatalf("kept %q, want %q", got, want)
	}
}

func TestGroupsAreIndependent(t *testing.T) {
	list := []Snapshot{
		{ID: "a1", Time: at("2026-01-01 00:00"), Host: "a", SourceKind: "path", SourceName: "/x"},
		{ID: "a2", Time: at("2026-01-02 00:00"), Host: "a", SourceKind: "path", SourceName: "/x"},
		{ID: "a-vol", Time: at("2026-01-01 00:00"), Host: "a", SourceKind: "docker-volume", SourceName: "x"},
		{ID: "b1", Time: at("2026-01-03 00:00"), Host: "b", SourceKind: "path", SourceName: "/x"},
		{ID: "b2", Time: at("2026-01-04 00:00"), Host: "b", SourceKind: "path", SourceName: "/x"},
	}
	ds := Apply(list, Policy{Last: 1}, now)
	got := kept(ds)
	want := []string{"a-vol last snapshot", "a2 last snapshot", "b2 last snapshot"}
	if !slices.Equal(got, want) {
		t.Fatalf("kept %q, want %q", got, want)
	}
	if len(ds) != 5 {
		t.Fatalf("%d decisions for 5 snapshots", len(ds))
	}
	for _, d := range ds {
		if d.Group.Host != d.Host || d.Group.SourceName != d.SourceName {
			t.Fatalf("decision %s in group %+v", d.ID, d.Group)
		}
	}
}

// TestTagFilter: only snapshots matching a --tag entry are considered at
// all; the rest are neither kept nor removed (absent from the result).
func TestTagFilter(t *testing.T) {
	list := snaps("2026-01-01 00:00", "2026-01-02 00:00", "2026-01-03 00:00", "2026-01-04 00:00")
	list[0].Tags = []string{"daily", "db"}
	list[1].Tags = []string{"daily"}
	list[2].Tags = []string{"db"}
	// list[3] has no tags.
	p := Policy{Last: 1, Tags: [][]string{{"daily", "db"}, {"db"}}}
	ds := Apply(list, p, now)
	var ids []string
	for _, d := range ds {
		ids = append(ids, fmt.Sprintf("%s:%v", d.ID, d.Keep))
	}
	want := []string{"01-03 00:00:true", "01-01 00:00:false"}
	if !slices.Equal(ids, want) {
		t.Fatalf("decisions %q, want %q", ids, want)
	}
	if (Policy{Tags: [][]string{ParseTags("daily, db")}}).Matches(list[1]) {
		t.Fatal("a snapshot without db matched daily,db")
	}
}

func TestLockedAlwaysKept(t *testing.T) {
	list := snaps("2026-01-01 00:00", "2026-01-02 00:00", "2026-01-03 00:00")
	list[0].LockedUntil, list[0].LockMode = now.Add(time.Hour), "compliance"
	list[1].LockedUntil, list[1].LockMode = now.Add(-time.Second), "governance" // expired
	list[2].LockedUntil, list[2].LockMode = now.Add(24*time.Hour), "governance"
	got := kept(Apply(list, Policy{Last: 1}, now))
	want := []string{
		"01-03 00:00 last snapshot+locked (governance) until 2030-01-02T00:00:00Z",
		"01-01 00:00 locked (compliance) until 2030-01-01T01:00:00Z",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kept %q, want %q", got, want)
	}
}

func TestPolicyChecks(t *testing.T) {
	if !(Policy{Tags: [][]string{{"x"}}}).Empty() {
		t.Fatal("a tag filter alone is not a keep rule")
	}
	if (Policy{Within: Span{Hours: 1}}).Empty() || (Policy{Yearly: Unlimited}).Empty() {
		t.Fatal("keep rules reported empty")
	}
	if err := (Policy{Daily: -2}).Validate(); err == nil {
		t.Fatal("keep-daily -2 accepted")
	}
	if err := (Policy{Daily: -1, Within: Span{Days: 3}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseSpan(t *testing.T) {
	for in, want := range map[string]Span{
		"1y6m": {Years: 1, Months: 6}, "14d": {Days: 14}, "36h": {Hours: 36},
		"2w": {Days: 14}, "1y2m3d4h": {1, 2, 3, 4}, "1w2d": {Days: 9},
	} {
		got, err := ParseSpan(in)
		if err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := ParseSpan(got.String()); err != nil || again != got {
			t.Errorf("ParseSpan(String(%+v)) = %+v, %v", got, again, err)
		}
	}
	for _, bad := range []string{"", "d", "3", "3x", "1d2y", "1h1h", "-1d", "99999999999y", "1.5d"} {
		if _, err := ParseSpan(bad); err == nil {
			t.Errorf("ParseSpan(%q) accepted", bad)
		}
	}
}

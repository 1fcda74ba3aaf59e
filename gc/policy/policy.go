package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Unlimited as a bucket count keeps one snapshot per bucket for all of
// history (restic's -1).
const Unlimited = -1

// Snapshot is what the policy needs to know about one snapshot.
type Snapshot struct {
	ID         string // any unique key; ties in time are broken by it
	Time       time.Time
	Host       string
	SourceKind string
	SourceName string
	Tags       []string
	// LockedUntil is when the snapshot's lock expires; zero when it has
	// none. A lock that has expired by Now does not protect.
	LockedUntil time.Time
	LockMode    string // "governance" or "compliance", for the reason text
}

// Group is the key snapshots are grouped by: each group gets its own
// buckets, so a busy host cannot push another host's history out.
type Group struct {
	Host       string `json:"host"`
	SourceKind string `json:"source_kind"`
	SourceName string `json:"source_name"`
}

func (s Snapshot) group() Group { return Group{s.Host, s.SourceKind, s.SourceName} }

// Policy says what to keep. A count of 0 disables that rule; Unlimited
// means no limit.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	// Within keeps every snapshot newer than the group's newest snapshot
	// minus this span.
	Within Span
	// Tags filters the snapshots the policy considers: a snapshot is
	// considered when it has every tag of at least one entry (restic's
	// --tag a,b --tag c). Empty: every snapshot.
	Tags [][]string
}

// Empty reports whether p keeps nothing by itself; applying an empty
// policy would forget every unlocked snapshot, which callers refuse.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 &&
		p.Monthly == 0 && p.Yearly == 0 && p.Within.IsZero()
}

// Validate refuses counts below Unlimited.
func (p Policy) Validate() error {
	for _, c := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}} {
		if c.n < Unlimited {
			return fmt.Errorf("keep-%s %d: want a count ≥ 0, or -1 for unlimited", c.name, c.n)
		}
	}
	return p.Within.validate()
}

// Decision is the verdict on one considered snapshot.
type Decision struct {
	Snapshot
	Group   Group
	Keep    bool
	Reasons []string // why it is kept; empty for a removed snapshot
}

// Matches reports whether s passes the tag filter.
func (p Policy) Matches(s Snapshot) bool {
	if len(p.Tags) == 0 {
		return true
	}
	for _, all := range p.Tags {
		if hasAll(s.Tags, all) {
			return true
		}
	}
	return false
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// Apply evaluates p over snaps at time now. Snapshots the tag filter
// excludes are not in the result. The result lists each group's decisions
// newest first, groups in order of host, kind and name.
func Apply(snaps []Snapshot, p Policy, now time.Time) []Decision {
	groups := map[Group][]Snapshot{}
	for _, s := range snaps {
		if p.Matches(s) {
			groups[s.group()] = append(groups[s.group()], s)
		}
	}
	keys := make([]Group, 0, len(groups))
	for g := range groups {
		keys = append(keys, g)
	}
	slices.SortFunc(keys, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.SourceKind, b.SourceKind), cmp.Compare(a.SourceName, b.SourceName))
	})
	out := make([]Decision, 0, len(snaps))
	for _, g := range keys {
		out = applyGroup(out, g, groups[g], p, now)
	}
	return out
}

// bucket is one counting rule: a snapshot is kept when its bucket value
// differs from the last kept one's, while the rule has count left.
type bucket struct {
	count  int
	value  func(t time.Time, nr int) int
	reason string
	last   int
	seen   bool
}

// applyGroup appends the decisions about one group's snapshots to out.
func applyGroup(out []Decision, g Group, list []Snapshot, p Policy, now time.Time) []Decision {
	// Newest first; equal times by ID, so the result never depends on the
	// input order.
	list = slices.Clone(list)
	slices.SortFunc(list, func(a, b Snapshot) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(a.ID, b.ID))
	})
	buckets := []*bucket{
		{count: p.Last, value: func(_ time.Time, nr int) int { return nr }, reason: "last snapshot"},
		{count: p.Hourly, value: hourKey, reason: "hourly snapshot"},
		{count: p.Daily, value: dayKey, reason: "daily snapshot"},
		{count: p.Weekly, value: weekKey, reason: "weekly snapshot"},
		{count: p.Monthly, value: monthKey, reason: "monthly snapshot"},
		{count: p.Yearly, value: yearKey, reason: "yearly snapshot"},
	}
	var since time.Time
	if !p.Within.IsZero() && len(list) > 0 {
		since = p.Within.Before(list[0].Time)
	}
	for nr, s := range list {
		t := s.Time.UTC()
		d := Decision{Snapshot: s, Group: g}
		if !since.IsZero() && s.Time.After(since) {
			d.Reasons = append(d.Reasons, "within "+p.Within.String()+" of the newest")
		}
		for _, b := range buckets {
			if b.count == 0 {
				continue
			}
			v := b.value(t, nr)
			// The oldest snapshot is kept while a rule has count left, as in
			// restic: it stretches the history kept as far as it goes.
			if !b.seen || v != b.last || nr == len(list)-1 {
				b.last, b.seen = v, true
				if b.count > 0 {
					b.count--
				}
				d.Reasons = append(d.Reasons, b.reason)
			}
		}
		if s.LockedUntil.After(now) {
			d.Reasons = append(d.Reasons, fmt.Sprintf("locked (%s) until %s", s.LockMode, s.LockedUntil.UTC().Format(time.RFC3339)))
		}
		d.Keep = len(d.Reasons) > 0
		out = append(out, d)
	}
	return out
}

func hourKey(t time.Time, _ int) int {
	return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour()
}

func dayKey(t time.Time, _ int) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }

func weekKey(t time.Time, _ int) int {
	y, w := t.ISOWeek()
	return y*100 + w
}

func monthKey(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }

func yearKey(t time.Time, _ int) int { return t.Year() }

// ParseTags splits one --tag value "a,b" into the tags that must all be
// present; empty parts are dropped.
func ParseTags(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

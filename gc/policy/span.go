package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Span is a calendar duration as restic's --keep-within takes it: years,
// months, days and hours, applied with calendar arithmetic (a month back
// from 31 March is 3 March, as time.AddDate normalises).
type Span struct {
	Years, Months, Days, Hours int
}

// maxSpanField bounds each field: far beyond any real retention, small
// enough that arithmetic cannot overflow.
const maxSpanField = 100000

// IsZero reports whether s is empty (the rule is off).
func (s Span) IsZero() bool { return s == Span{} }

func (s Span) validate() error {
	for _, v := range []int{s.Years, s.Months, s.Days, s.Hours} {
		if v < 0 || v > maxSpanField {
			return fmt.Errorf("keep-within %s: each field must be 0..%d", s, maxSpanField)
		}
	}
	return nil
}

// Before returns t minus s.
func (s Span) Before(t time.Time) time.Time {
	return t.AddDate(-s.Years, -s.Months, -s.Days).Add(-time.Duration(s.Hours) * time.Hour)
}

// String formats s as ParseSpan reads it, e.g. "1y6m", "7d", "0h".
func (s Span) String() string {
	var b strings.Builder
	for _, f := range []struct {
		n    int
		unit string
	}{{s.Years, "y"}, {s.Months, "m"}, {s.Days, "d"}, {s.Hours, "h"}} {
		if f.n != 0 {
			fmt.Fprintf(&b, "%d%s", f.n, f.unit)
		}
	}
	if b.Len() == 0 {
		return "0h"
	}
	return b.String()
}

// ParseSpan reads restic's duration form: one or more of Ny, Nm, Nd, Nh in
// that order, e.g. "2y", "1y6m", "14d", "36h". "w" (7 days) is accepted as
// well, written before d.
func ParseSpan(v string) (Span, error) {
	var s Span
	rest := v
	order := "ymwdh"
	if rest == "" {
		return s, fmt.Errorf("keep-within: empty duration")
	}
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return Span{}, fmt.Errorf("keep-within %q: want e.g. 1y6m, 14d or 36h (units y, m, w, d, h)", v)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > maxSpanField {
			return Span{}, fmt.Errorf("keep-within %q: number out of range", v)
		}
		unit := rest[i]
		pos := strings.IndexByte(order, unit)
		if pos < 0 {
			return Span{}, fmt.Errorf("keep-within %q: unknown unit %q (units y, m, w, d, h, in that order)", v, unit)
		}
		order = order[pos+1:]
		switch unit {
		case 'y':
			s.Years = n
		case 'm':
			s.Months = n
		case 'w':
			s.Days += 7 * n
		case 'd':
			s.Days += n
		case 'h':
			s.Hours = n
		}
		rest = rest[i+1:]
	}
	return s, s.validate()
}

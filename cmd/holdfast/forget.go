package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/gc/policy"
)

func init() { register(newForgetCommand) }

// forgetFlags are the policy flags of forget.
type forgetFlags struct {
	last, hourly, daily, weekly, monthly, yearly int
	within                                       string
	tags                                         []string
	dryRun, asJSON                               bool
}

// policy builds the request's policy; nil when no keep rule is given.
func (f *forgetFlags) policy() (*holdfastv1.Policy, error) {
	p := &holdfastv1.Policy{KeepLast: int32(f.last), KeepHourly: int32(f.hourly), KeepDaily: int32(f.daily),
		KeepWeekly: int32(f.weekly), KeepMonthly: int32(f.monthly), KeepYearly: int32(f.yearly)}
	check := policy.Policy{Last: f.last, Hourly: f.hourly, Daily: f.daily, Weekly: f.weekly, Monthly: f.monthly, Yearly: f.yearly}
	if f.within != "" {
		span, err := policy.ParseSpan(f.within)
		if err != nil {
			return nil, usageError{err}
		}
		check.Within = span
		p.KeepWithin = &holdfastv1.KeepWithin{Years: uint32(span.Years), Months: uint32(span.Months), Days: uint32(span.Days), Hours: uint32(span.Hours)}
	}
	for _, t := range f.tags {
		if set := policy.ParseTags(t); len(set) > 0 {
			p.Tags = append(p.Tags, &holdfastv1.TagSet{Tags: set})
		}
	}
	if err := check.Validate(); err != nil {
		return nil, usageError{err}
	}
	if check.Empty() {
		if len(p.Tags) > 0 {
			return nil, usagef("--tag only selects snapshots for a policy: give a --keep-* option too")
		}
		return nil, nil
	}
	return p, nil
}

func newForgetCommand(g *globals) *cobra.Command {
	var f forgetFlags
	cmd := &cobra.Command{
		Use:   "forget [SNAPSHOT...] [--keep-* N]... [--tag T]... [--dry-run] [--json]",
		Short: "Remove snapshots by ID or by a retention policy",
		Long: `Remove the named snapshots, and, with --keep-* options, every snapshot the
policy does not keep. The server evaluates the policy per group of host and
source, newest first, as restic does: --keep-last N keeps the N newest;
--keep-hourly/daily/weekly/monthly/yearly N keep the newest snapshot of each
of the N newest hours, days, ISO weeks, months or years (UTC) that have one
(-1: no limit); --keep-within DUR (e.g. 14d, 1y6m, 36h) keeps those newer
than the group's newest snapshot minus DUR. --tag T (repeatable; "a,b" means
both) limits the policy to snapshots with those tags. Locked snapshots are
always kept; naming one is refused.

Only snapshot records are removed: run 'holdfast gc' to free the space.
Needs an admin token; no password.`,
		Example: `  holdfast forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run
  holdfast forget 3fa4b2c1
  holdfast forget --keep-last 3 --tag db --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.policy()
			if err != nil {
				return err
			}
			if p == nil && len(args) == 0 {
				return usagef("name snapshots to forget, or give a policy (--keep-last, --keep-daily, …)")
			}
			c, err := g.conn(true)
			if err != nil {
				return err
			}
			ids, err := c.ResolveIDs(cmd.Context(), args)
			if err != nil {
				return err
			}
			resp, err := c.Forget(cmd.Context(), ids, p, f.dryRun)
			if err != nil {
				return err
			}
			if f.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(forgetOutput(resp))
			}
			return printForget(cmd.OutOrStdout(), resp)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.last, "keep-last", 0, "keep the `N` newest snapshots")
	fl.IntVar(&f.hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last `N` hours that have one")
	fl.IntVar(&f.daily, "keep-daily", 0, "keep the newest snapshot of each of the last `N` days")
	fl.IntVar(&f.weekly, "keep-weekly", 0, "keep the newest snapshot of each of the last `N` ISO weeks")
	fl.IntVar(&f.monthly, "keep-monthly", 0, "keep the newest snapshot of each of the last `N` months")
	fl.IntVar(&f.yearly, "keep-yearly", 0, "keep the newest snapshot of each of the last `N` years")
	fl.StringVar(&f.within, "keep-within", "", "keep snapshots newer than the newest minus `DUR` (e.g. 14d, 1y6m, 36h)")
	fl.StringArrayVar(&f.tags, "tag", nil, "only consider snapshots with tag `T` (repeat for alternatives; a,b for both)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show what would be removed and why the rest is kept; change nothing")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	return cmd
}

// verdictJSON is one snapshot in forget --json.
type verdictJSON struct {
	ID      string     `json:"id"`
	Time    string     `json:"time"`
	Host    string     `json:"host"`
	Source  sourceJSON `json:"source"`
	Tags    []string   `json:"tags"`
	Reasons []string   `json:"reasons"`
	Lock    *lockJSON  `json:"lock"`
}

type forgetJSON struct {
	DryRun  bool          `json:"dry_run"`
	Removed []verdictJSON `json:"removed"`
	Kept    []verdictJSON `json:"kept"`
}

func forgetOutput(r *holdfastv1.ForgetResponse) forgetJSON {
	out := forgetJSON{DryRun: r.DryRun, Removed: []verdictJSON{}, Kept: []verdictJSON{}}
	conv := func(v *holdfastv1.SnapshotVerdict) verdictJSON {
		j := verdictJSON{ID: fmt.Sprintf("%x", v.Id), Time: time.Unix(0, v.TimeUnixNano).UTC().Format(time.RFC3339Nano),
			Host: v.Host, Source: sourceJSON{Kind: v.SourceKind, Name: v.SourceName},
			Tags: append([]string{}, v.Tags...), Reasons: append([]string{}, v.Reasons...)}
		if v.Lock != nil {
			j.Lock = &lockJSON{Mode: lockModeName(v.Lock.Mode), Until: time.Unix(0, v.Lock.UntilUnixNano).UTC().Format(time.RFC3339)}
		}
		return j
	}
	for _, v := range r.Removed {
		out.Removed = append(out.Removed, conv(v))
	}
	for _, v := range r.Kept {
		out.Kept = append(out.Kept, conv(v))
	}
	return out
}

func printForget(w io.Writer, r *holdfastv1.ForgetResponse) error {
	out := forgetOutput(r)
	verb := "Removed"
	if r.DryRun {
		verb = "Would remove"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table := func(title string, vs []verdictJSON) {
		fmt.Fprintf(tw, "%s %d snapshot(s)\n", title, len(vs))
		if len(vs) == 0 {
			return
		}
		fmt.Fprintln(tw, "ID\tTIME\tHOST\tSOURCE\tTAGS\tREASONS")
		for _, v := range vs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ID[:8], v.Time, v.Host, v.Source.Kind+":"+v.Source.Name,
				strings.Join(v.Tags, ","), strings.Join(v.Reasons, ", "))
		}
	}
	table("Keeping", out.Kept)
	fmt.Fprintln(tw)
	table(verb, out.Removed)
	return tw.Flush()
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

func init() { register(newSnapshotsCommand) }

// snapshotJSON is one element of `snapshots --json` (CONTRACT.md).
type snapshotJSON struct {
	ID     string     `json:"id"`
	Time   string     `json:"time"`
	Host   string     `json:"host"`
	Source sourceJSON `json:"source"`
	Tags   []string   `json:"tags"`
	Paths  []string   `json:"paths"`
	Parent string     `json:"parent,omitempty"`
	Size   uint64     `json:"size"`
	Files  uint64     `json:"files"`
	Dirs   uint64     `json:"dirs"`
	Lock   *lockJSON  `json:"lock"`
}

type sourceJSON struct {
	Kind   string            `json:"kind"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

type lockJSON struct {
	Mode  string `json:"mode"`
	Until string `json:"until"`
}

func newSnapshotsCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List the repository's snapshots, oldest first",
		Long: `List every snapshot of the repository, oldest first: ID, time, host, source,
tags, size and lock. Each header is checked against the repository key, so
a snapshot the server altered is reported, not shown.

With --json, one JSON array of objects with id, time (RFC 3339), host,
source {kind, name}, tags, paths, parent, size, files, dirs and lock
(null, or {mode, until}).`,
		Example: `  holdfast snapshots
  holdfast snapshots --json | jq -r '.[] | select(.host=="web01") | .id'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			snaps, err := r.Snapshots(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]snapshotJSON, 0, len(snaps))
			for _, s := range snaps {
				h := s.Header
				j := snapshotJSON{
					ID:     s.ID.String(),
					Time:   time.Unix(0, h.Time).UTC().Format(time.RFC3339Nano),
					Host:   h.Host,
					Source: sourceJSON{Kind: h.Source.Kind, Name: h.Source.Name},
					Tags:   append([]string{}, h.Tags...),
					Paths:  append([]string{}, h.Paths...),
					Size:   h.Size, Files: h.Files, Dirs: h.Dirs,
				}
				if !h.Parent.IsZero() {
					j.Parent = h.Parent.String()
				}
				if len(h.Source.Labels) > 0 {
					j.Source.Labels = map[string]string{}
					for _, l := range h.Source.Labels {
						j.Source.Labels[l.Key] = l.Value
					}
				}
				if s.Lock != nil {
					j.Lock = &lockJSON{
						Mode:  lockModeName(s.Lock.Mode),
						Until: time.Unix(0, s.Lock.UntilUnixNano).UTC().Format(time.RFC3339),
					}
				}
				out = append(out, j)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tHOST\tSOURCE\tTAGS\tSIZE\tLOCK")
			for _, j := range out {
				t, _ := time.Parse(time.RFC3339Nano, j.Time)
				lock := ""
				if j.Lock != nil {
					lock = j.Lock.Mode + " until " + j.Lock.Until
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID[:8], t.Local().Format("2006-01-02 15:04:05"),
					j.Host, j.Source.Kind+":"+j.Source.Name, strings.Join(j.Tags, ","), bkBytes(j.Size), lock)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d snapshots\n", len(out))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON array")
	return cmd
}

func lockModeName(m holdfastv1.LockMode) string {
	switch m {
	case holdfastv1.LockMode_LOCK_MODE_GOVERNANCE:
		return "governance"
	case holdfastv1.LockMode_LOCK_MODE_COMPLIANCE:
		return "compliance"
	}
	return "unknown"
}

// bkBytes formats a byte count with a binary unit, e.g. 1.5 GiB.
func bkBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newStatsCommand) }

// statsJSON is the output of `stats --json`.
type statsJSON struct {
	Repo      string `json:"repo"`
	Snapshots uint64 `json:"snapshots"`
	Chunks    uint64 `json:"chunks"`
	Packs     uint64 `json:"packs"`
	LiveBytes uint64 `json:"live_bytes"`
	PackBytes uint64 `json:"pack_bytes"`
}

func newStatsCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats [--json]",
		Short: "Show the repository's size on the server",
		Long: `Show what the server holds for the repository: snapshots, chunks, packs,
the bytes of sealed chunks still referenced (as packed, before erasure
coding) and the bytes of packs as stored. Needs no password: the server
counts without the key.

With --json, one JSON object with repo, snapshots, chunks, packs,
live_bytes and pack_bytes.`,
		Example: `  holdfast stats
  holdfast stats --json | jq .pack_bytes`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.conn(true)
			if err != nil {
				return err
			}
			s, err := c.Stats(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := json.Marshal(statsJSON{Repo: c.Repo(), Snapshots: s.Snapshots, Chunks: s.Chunks, Packs: s.Packs, LiveBytes: s.LiveBytes, PackBytes: s.PackBytes})
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
				return nil
			}
			fmt.Fprintf(out, "repository  %s\n", c.Repo())
			fmt.Fprintf(out, "snapshots   %d\n", s.Snapshots)
			fmt.Fprintf(out, "chunks      %d\n", s.Chunks)
			fmt.Fprintf(out, "packs       %d\n", s.Packs)
			fmt.Fprintf(out, "live bytes  %s (%d)\n", fmtBytes(int64(s.LiveBytes)), s.LiveBytes)
			fmt.Fprintf(out, "pack bytes  %s (%d)\n", fmtBytes(int64(s.PackBytes)), s.PackBytes)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

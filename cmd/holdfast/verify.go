package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func init() { register(newVerifyCommand) }

func newVerifyCommand(g *globals) *cobra.Command {
	var readData bool
	cmd := &cobra.Command{
		Use:   "verify [--read-data]",
		Short: "Check every snapshot of the repository with the repository key",
		Long: `Check the repository from the client side, where the key is: every
snapshot's header (MAC and ID) and reference list, every directory listing
it reaches (each chunk authenticated, each entry valid), and that the
reference list covers every chunk the listings use (what keeps garbage
collection from deleting them). Listings shared by snapshots are checked
once.

With --read-data every data chunk is also downloaded, decrypted and
checked against its ID and length: this reads the whole repository.

Each problem is printed on its own line on stdout, then a summary. The exit
code is 1 when any problem was found.`,
		Example: `  holdfast verify
  holdfast verify --read-data`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r, err := g.open(ctx)
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := r.Verify(ctx, readData)
			out := cmd.OutOrStdout()
			if res != nil {
				for _, p := range res.Problems {
					fmt.Fprintln(out, p)
				}
				if res.MoreProblems > 0 {
					fmt.Fprintf(out, "... and %d more problems\n", res.MoreProblems)
				}
			}
			if err != nil {
				return err
			}
			n := int64(len(res.Problems)) + res.MoreProblems
			fmt.Fprintf(out, "checked %d snapshots, %d directory listings, %d data chunks", res.Snapshots, res.Trees, res.DataChunks)
			if readData {
				fmt.Fprintf(out, " (%d read, %s)", res.ChunksRead, fmtBytes(res.BytesRead))
			}
			fmt.Fprintf(out, " in %.1fs: %d problems\n", time.Since(start).Seconds(), n)
			if n > 0 {
				return exitError{exitFailure, fmt.Errorf("verify: %d problems found (listed on stdout)", n)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "also download and check every data chunk")
	return cmd
}

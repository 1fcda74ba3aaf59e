package main

import (
	"bufio"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/holdfast-backup/holdfast/client"
)

func init() { register(newDumpCommand) }

func newDumpCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dump SNAPSHOT [PATH]",
		Short: "Write a snapshot as a tar stream, or one file's bytes, to stdout",
		Long: `Write SNAPSHOT (a full ID, a unique prefix of at least 8 hex digits, or
latest) to stdout.

Without PATH, or when PATH is a directory, the output is a tar stream (PAX
format) of the whole snapshot or of that subtree: member names relative to
the snapshot root, modes, owners (ids and names), nanosecond times, xattrs
(SCHILY.xattr records), symlinks, hard links (as tar hard links), FIFOs and
devices. Sparse files are written with their full logical content; sockets
are left out. When PATH is a regular file, the output is its bytes.

Paths inside a snapshot never follow symlinks. Progress goes to stderr
while stderr is a terminal; stdout must not be one.`,
		Example: `  holdfast dump latest > snapshot.tar
  holdfast dump latest /etc | tar -xf - -C /tmp/etc-copy
  holdfast dump 3f2a9c1e /var/lib/app/config.yaml > config.yaml`,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if term.IsTerminal(int(os.Stdout.Fd())) {
				return usagef("stdout is a terminal: redirect it to a file or a pipe")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r, err := g.open(ctx)
			if err != nil {
				return err
			}
			snap, err := r.Resolve(ctx, args[0])
			if err != nil {
				return err
			}
			path := ""
			if len(args) == 2 {
				path = args[1]
			}
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
			progress := &client.Progress{}
			stopBar := showProgress(ctx, progress, time.Now(), "dumped")
			err = r.DumpProgress(ctx, snap, path, w, progress)
			stopBar()
			if err != nil {
				return err
			}
			return w.Flush()
		},
	}
	return cmd
}

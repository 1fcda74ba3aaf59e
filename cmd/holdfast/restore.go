package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/client"
)

func init() { register(newRestoreCommand) }

func newRestoreCommand(g *globals) *cobra.Command {
	var opts client.RestoreOptions
	var volume string
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT --target DIR [--include PATH]... | --docker-volume NEWNAME [--include PATH]",
		Short: "Restore a snapshot, or part of it, into a directory or a new Docker volume",
		Long: `Restore SNAPSHOT (a full ID, a unique prefix of at least 8 hex digits, or
latest) into the directory DIR, which is created if missing.

Regular files are written byte for byte with their holes left sparse; then
directories, symlinks, hard links, FIFOs and device nodes (these only when
the process may create them). Owners are restored when running as root;
modes, xattrs and times always (directories last, so their times stick).

--include PATH (repeatable) restores only that subtree or file of the
snapshot, at the same path below DIR, with its parent directories.

Nothing is ever written outside DIR, whatever the snapshot holds: names
are single path components, symlinks in DIR are never followed, and a
snapshot built to escape is refused with an error.

A restore that was interrupted can be run again into the same DIR: files
whose content is already right (checked against the snapshot's chunk IDs,
without downloading) are skipped, and a partly written file keeps its
correct beginning. Progress goes to stderr while stderr is a terminal.
` + dockerRestoreHelp,
		Example: `  holdfast restore latest --target /srv/restore
  holdfast restore 3f2a9c1e --target /tmp/r --include /etc/nginx --include /var/www/index.html
  holdfast restore latest --docker-volume pgdata-restored`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.Target == "") == (volume == "") {
				return usagef("give one of --target DIR and --docker-volume NAME")
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
			dest, finish := opts.Target, func() error { return nil }
			if volume != "" {
				if finish, err = prepareVolumeRestore(ctx, r, &snap, &opts, volume); err != nil {
					return err
				}
				dest = "volume " + volume
			}
			stderr := cmd.ErrOrStderr()
			opts.Warn = func(msg string) { fmt.Fprintf(stderr, "holdfast: warning: %s\n", msg) }
			opts.Progress = &client.Progress{}
			start := time.Now()
			stopBar := showRestoreProgress(ctx, snap, opts, start)
			res, err := r.Restore(ctx, snap, opts)
			stopBar()
			if err == nil {
				err = finish()
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored snapshot %s into %s\n", snap.ID.Short(), dest)
			fmt.Fprintf(out, "files: %d written (%d resumed), %d already correct; %d dirs, %d symlinks, %d hard links, %d other\n",
				res.Files, res.FilesResumed, res.FilesSkipped, res.Dirs, res.Symlinks, res.Hardlinks, res.Specials)
			fmt.Fprintf(out, "wrote %s, fetched %s in %d chunks, in %.1fs\n",
				fmtBytes(res.Bytes), fmtBytes(res.ChunkBytes), res.Chunks, time.Since(start).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Target, "target", "", "restore into `DIR` (created if missing)")
	f.StringArrayVar(&opts.Include, "include", nil, "restore only `PATH` of the snapshot (repeatable)")
	f.StringVar(&volume, "docker-volume", "", "restore into the Docker volume `NAME` (created if missing, else must be empty)")
	return cmd
}

// fmtBytes formats a byte count with a binary unit.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/internal/gogc"
)

func init() { register(newBackupCommand) }

// backupSummaryJSON is the final line of `backup --json` (CONTRACT.md).
type backupSummaryJSON struct {
	MessageType     string  `json:"message_type"`
	SnapshotID      string  `json:"snapshot_id"`
	Parent          string  `json:"parent,omitempty"`
	FilesNew        uint64  `json:"files_new"`
	FilesChanged    uint64  `json:"files_changed"`
	FilesUnmodified uint64  `json:"files_unmodified"`
	Dirs            uint64  `json:"dirs"`
	BytesRead       uint64  `json:"bytes_read"`
	BytesAdded      uint64  `json:"bytes_added"`
	BytesUploaded   uint64  `json:"bytes_uploaded"`
	Size            uint64  `json:"size"`
	DurationS       float64 `json:"duration_s"`
	Errors          int     `json:"errors"`
}

// backupGCPercent is the garbage collector's target during a backup,
// unless GOGC is set. Most of a backup's live heap is read, chunk and
// message buffers kept for reuse; at the runtime's default of 100 the heap
// grows by as much again before a collection, and every new page costs a
// fault. Issue 5 benchmark with --compression s2, 3 runs each, alternating:
// client peak RSS 255-270 MiB against 337-400, 83-88k page faults against
// 100-118k, 9.2-10.4 CPU-s against 9.6-11.4. Restores keep the default:
// at 50 they faulted more (a restore's heap is mostly short-lived).
const backupGCPercent = 50

func newBackupCommand(g *globals) *cobra.Command {
	var opts client.BackupOptions
	var asJSON bool
	var k8s *k8sFlags
	var dk dockerBackup
	cmd := &cobra.Command{
		Use: "backup PATH... | --docker-volume NAME | --docker-container NAME [--pause] [--hook-before CMD] [--hook-after CMD]\n" +
			"                [--tag T]... [--host H] [--exclude GLOB]... [--parent SNAPSHOT] [--json]",
		Short: "Back up files, directories, Docker volumes or containers into a new snapshot",
		Long: `Back up PATHs into one new snapshot and print its ID on the last line.

One directory becomes the snapshot's root. Several paths (or one file) make
a root that lists each path by its base name, so base names must differ.
Symlinks are stored as links, never followed; owners, modes, times, xattrs,
hard links, sparse holes, devices, FIFOs and sockets are recorded.

Only what changed is read: a file whose size, mtime, ctime and inode match
the parent snapshot (the newest one of the same host and paths, or
--parent) reuses its chunks, known from a local cache (under the user cache
directory, e.g. ~/.cache/holdfast) or, without one, from the parent's trees
on the server. Chunks the server already holds are never uploaded.

--exclude GLOB (repeatable) skips entries whose path below the root, or
whose name, matches the glob (*, ?, [a-z]; see Go's path.Match).

--compression picks how new chunks are compressed where it pays (already
compressed or random data is stored as it is): zstd (the default, smallest),
s2 (about a third of zstd's CPU, a few percent larger: for hosts where the
backup is CPU-bound) or none. HOLDFAST_COMPRESSION sets the default. Every
client reads every compression; it is a choice per backup, not per
repository.

Progress goes to stderr while stderr is a terminal. Files that cannot be
read are listed on stderr and left out; the snapshot still commits and the
exit code is 3.
` + dockerBackupHelp,
		Example: `  holdfast backup /srv/www --tag daily
  holdfast backup /etc /home --exclude '*.tmp' --exclude .cache --host web01
  holdfast backup /var/lib/postgresql --json | tail -1 | jq -r .snapshot_id
  holdfast backup --docker-volume pgdata --pause
  holdfast backup --docker-container db --pause --hook-before 'docker exec db pg_dumpall -U postgres -f /backup/all.sql'`,
		Args: func(_ *cobra.Command, args []string) error { return dk.args(args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			gogc.Default(backupGCPercent)
			// Checked before anything else, the server included, so a
			// typo is a usage error and says where it came from.
			if _, err := seal.ParseCompression(opts.Compression); err != nil {
				if !cmd.Flags().Changed("compression") {
					return usagef("HOLDFAST_COMPRESSION: %v", err)
				}
				return usagef("--compression: %v", err)
			}
			if err := k8s.prepare(&opts, args); err != nil {
				return err
			}
			// The keys are unwrapped in the background: a plain backup
			// lists the files and pins the parent meanwhile (SPEC.md §12.7).
			u, err := g.startOpen(ctx)
			if err != nil {
				return err
			}
			opts.Paths = args
			if k8s.pods {
				r, err := u.Wait()
				if err != nil {
					return err
				}
				return k8s.backupPods(ctx, cmd, r, opts, asJSON)
			}
			stopProgress := startBackupProgress(&opts)
			sum, err := dk.backup(ctx, u, opts, args, cmd.ErrOrStderr())
			stopProgress(err)
			if errors.Is(err, client.ErrInvalidOptions) {
				return usageError{err}
			}
			if sum == nil {
				return err
			}
			// err != nil here: committed, but unpausing or --hook-after
			// failed; the summary is printed, then the error.
			stderr := cmd.ErrOrStderr()
			for _, fe := range sum.Errors {
				fmt.Fprintf(stderr, "holdfast: %s: %v\n", fe.Path, fe.Err)
			}
			warnCache(stderr, sum)
			out := cmd.OutOrStdout()
			if asJSON {
				line := backupSummaryJSON{
					MessageType: "summary", SnapshotID: sum.SnapshotID.String(),
					FilesNew: sum.FilesNew, FilesChanged: sum.FilesChanged, FilesUnmodified: sum.FilesUnmodified,
					Dirs: sum.Dirs, BytesRead: sum.BytesRead, BytesAdded: sum.BytesAdded, BytesUploaded: sum.BytesUploaded,
					Size: sum.Size, DurationS: math.Round(sum.Duration.Seconds()*1000) / 1000, Errors: len(sum.Errors),
				}
				if !sum.Parent.IsZero() {
					line.Parent = sum.Parent.String()
				}
				b, err := json.Marshal(line)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				fmt.Fprintf(out, "files: %d new, %d changed, %d unmodified; %d dirs\n",
					sum.FilesNew, sum.FilesChanged, sum.FilesUnmodified, sum.Dirs)
				fmt.Fprintf(out, "read %s, added %s, uploaded %s in %.1fs (total size %s)\n",
					bkBytes(sum.BytesRead), bkBytes(sum.BytesAdded), bkBytes(sum.BytesUploaded), sum.Duration.Seconds(), bkBytes(sum.Size))
				fmt.Fprintln(out, sum.SnapshotID)
			}
			if err != nil {
				return err
			}
			if n := len(sum.Errors); n > 0 {
				return exitError{exitPartial, fmt.Errorf("snapshot %s committed without %d unreadable file(s), listed above", sum.SnapshotID.Short(), n)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.Tags, "tag", nil, "tag the snapshot with `T` (repeatable)")
	f.StringVar(&opts.Host, "host", "", "record host name `H` (default: this machine's)")
	f.StringArrayVar(&opts.Excludes, "exclude", nil, "skip entries matching `GLOB` (repeatable)")
	f.StringVar(&opts.Parent, "parent", "", "compare with `SNAPSHOT` instead of the newest of this host and paths")
	f.BoolVar(&opts.NoCache, "no-cache", false, "neither use nor write the local metadata cache")
	f.StringVar(&opts.Compression, "compression", firstNonEmpty(os.Getenv("HOLDFAST_COMPRESSION"), "zstd"),
		"compress new chunks with `C`: zstd, s2 or none")
	f.BoolVar(&asJSON, "json", false, "print one JSON summary line instead of text")
	k8s = registerK8sFlags(cmd)
	dk.register(f)
	return cmd
}

// warnCache tells the user that the local cache was not written. The
// snapshot is fine; the next backup reads the parent's trees from the
// server instead, which takes longer.
func warnCache(w io.Writer, sum *client.BackupSummary) {
	if sum.CacheError != nil {
		fmt.Fprintf(w, "holdfast: warning: the local cache was not saved (%v); the next backup reads the parent's trees from the server instead\n", sum.CacheError)
	}
}

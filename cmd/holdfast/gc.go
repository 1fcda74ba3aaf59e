package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/client"
)

func init() { register(newGCCommand) }

// gcJSON is the output of `gc --json`.
type gcJSON struct {
	DryRun           bool    `json:"dry_run"`
	Snapshots        uint64  `json:"snapshots"`
	ChunksLive       uint64  `json:"chunks_live"`
	ChunksDead       uint64  `json:"chunks_dead"`
	PacksDeleted     uint64  `json:"packs_deleted"`
	PacksRepacked    uint64  `json:"packs_repacked"`
	PacksKept        uint64  `json:"packs_kept"`
	BytesFreed       uint64  `json:"bytes_freed"`
	StoredBytesFreed uint64  `json:"stored_bytes_freed"`
	ChunksFreed      uint64  `json:"chunks_freed"`
	BytesDead        uint64  `json:"bytes_dead"`
	ChunksInGrace    uint64  `json:"chunks_in_grace"`
	ChunksMoved      uint64  `json:"chunks_moved"`
	PacksWritten     uint64  `json:"packs_written"`
	PacksRetained    uint64  `json:"packs_kept_retained"`
	PacksLocked      uint64  `json:"packs_kept_locked"`
	OrphanShards     uint64  `json:"orphan_shards_deleted"`
	OrphanBytes      uint64  `json:"orphan_bytes_deleted"`
	Interrupted      bool    `json:"previous_run_interrupted"`
	DurationS        float64 `json:"duration_s"`
}

func newGCCommand(g *globals) *cobra.Command {
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "gc [--dry-run] [--json]",
		Short: "Free the space of chunks no snapshot references",
		Long: `Run garbage collection on the server: chunks that no snapshot (locked ones
included) and no running upload references are removed, packs with nothing
live are deleted and mostly-dead packs rewritten. Safe while backups run.
With --dry-run, report what would be freed and change nothing.

With --json, one JSON object with dry_run, snapshots, chunks_live,
chunks_dead, packs_deleted, packs_repacked, packs_kept, bytes_freed,
stored_bytes_freed and duration_s. Needs an admin token; no password.
On a terminal, stderr shows the phase (mark, seal, packs, orphans) and how
far it got.`,
		Example: `  holdfast gc --dry-run
  holdfast gc --json | jq .bytes_freed`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.conn(true)
			if err != nil {
				return err
			}
			show := gcProgress(progressWriter(os.Stderr))
			r, err := c.CollectGarbage(cmd.Context(), dryRun, show)
			show(client.GCProgress{Phase: "done"})
			if err != nil {
				return err
			}
			j := gcJSON{DryRun: r.GetDryRun(), Snapshots: r.GetSnapshots(), ChunksLive: r.GetChunksLive(), ChunksDead: r.GetChunksDead(),
				PacksDeleted: r.GetPacksDeleted(), PacksRepacked: r.GetPacksRepacked(), PacksKept: r.GetPacksKept(),
				BytesFreed: r.GetBytesFreed(), StoredBytesFreed: r.GetStoredBytesFreed(),
				ChunksFreed: r.GetChunksFreed(), ChunksInGrace: r.GetChunksInGrace(), BytesDead: r.GetBytesDead(), ChunksMoved: r.GetChunksMoved(),
				PacksWritten: r.GetPacksWritten(), PacksRetained: r.GetPacksKeptRetained(), PacksLocked: r.GetPacksKeptLocked(),
				OrphanShards: r.GetOrphanShardsDeleted(), OrphanBytes: r.GetOrphanBytesDeleted(), Interrupted: r.GetPreviousRunInterrupted(),
				DurationS: time.Duration(r.GetDurationNanos()).Seconds()}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(j)
			}
			verb := "freed"
			if j.DryRun {
				verb = "would free"
			}
			fmt.Fprintf(out, "snapshots       %d\n", j.Snapshots)
			fmt.Fprintf(out, "chunks          %d live, %d dead (%s), %d freed, %d moved\n", j.ChunksLive, j.ChunksDead, fmtBytes(int64(j.BytesDead)), j.ChunksFreed, j.ChunksMoved)
			fmt.Fprintf(out, "packs           %d deleted, %d repacked into %d, %d kept (%d retained, %d locked)\n",
				j.PacksDeleted, j.PacksRepacked, j.PacksWritten, j.PacksKept, j.PacksRetained, j.PacksLocked)
			if j.ChunksInGrace > 0 {
				fmt.Fprintf(out, "in grace        %d unreferenced chunks in packs too young to collect (holdfastd --gc-grace)\n", j.ChunksInGrace)
			}
			if j.OrphanShards > 0 {
				fmt.Fprintf(out, "orphan shards   %d deleted (%s)\n", j.OrphanShards, fmtBytes(int64(j.OrphanBytes)))
			}
			if j.Interrupted {
				fmt.Fprintln(out, "note            an earlier collection did not finish; this one redid its work")
			}
			fmt.Fprintf(out, "%-15s %s of packs (%s stored)\n", verb, fmtBytes(int64(j.BytesFreed)), fmtBytes(int64(j.StoredBytesFreed)))
			fmt.Fprintf(out, "duration        %.1fs\n", j.DurationS)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be freed; change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// gcProgress returns the progress line of gc on w (a terminal), or a
// no-op when w is nil. Phase "done" clears the line.
func gcProgress(w io.Writer) func(client.GCProgress) {
	if w == nil {
		return func(client.GCProgress) {}
	}
	start := time.Now()
	return func(p client.GCProgress) {
		switch {
		case p.Phase == "done":
			fmt.Fprint(w, "\r\033[K")
		case p.Total > 0:
			fmt.Fprintf(w, "\r\033[Kgc: %s %d / %d  %s", p.Phase, p.Done, p.Total, time.Since(start).Round(time.Second))
		default:
			fmt.Fprintf(w, "\r\033[Kgc: %s  %s", p.Phase, time.Since(start).Round(time.Second))
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/repo"
)

func newScrubCommand() *cobra.Command {
	var (
		data     string
		noRepair bool
		asJSON   bool
		replaced []uint
		lf       layoutFlags
	)
	cmd := &cobra.Command{
		Use:   "scrub",
		Short: "Verify every shard and meta object; repair what is damaged",
		Long: `Read every shard of every pack and every copy of every snapshot, key file
and repository record, check their BLAKE3 hashes, and rebuild damaged or
missing shards in place from the others (unless --no-repair). Runs offline:
stop the server first.

A local store that is not there is left alone: its shards are counted as
on unavailable stores, not rebuilt. That is a store whose directory is gone,
and also one whose directory is empty and lacks the store marker while
packs are stored on it: the mount point of a disk that is not mounted, or a
replaced disk. For a replaced disk, say so with --replaced-store ID (the ID
in DATA/layout.json and in the log): scrub marks the empty directory as
the store and refills it.

Exit status 0 when nothing is lost (repaired damage is fine), 1 otherwise.`,
		Example: "  holdfastd scrub --data /var/lib/holdfast\n  holdfastd scrub --data ./holdfast-data --no-repair --json\n" +
			"  holdfastd scrub --data /var/lib/holdfast --replaced-store 2   # store 2's disk was replaced by an empty one",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			setMemoryLimit(cgroupMemoryFiles)
			setGCPercent()
			dir, r, err := openEngine(cmd.Context(), data, &lf, cmd.Flags().Changed("shards"), log, nil)
			if err != nil {
				return err
			}
			defer dir.Close()
			defer r.Close(context.Background())
			for _, id := range replaced {
				if id > 0xffff {
					return usagef("--replaced-store %d: not a store ID", id)
				}
				// Refused: nothing was done, and the flag named the wrong store.
				if err := r.AdoptStore(uint16(id)); err != nil {
					return usagef("--replaced-store: %w", err)
				}
			}
			rep, err := r.Scrub(cmd.Context(), !noRepair)
			if err != nil {
				return fmt.Errorf("scrub: %w", err)
			}
			printReport(asJSON, rep, fmt.Sprintf(
				"scrub: %d repositories, %d packs: %d shards good, %d missing, %d on unavailable stores, %d corrupt, %d repaired, %d moved home, %d packs lost; %d meta objects, %d copies repaired, %d lost; %d dangling index entries",
				rep.Repositories, rep.Packs, rep.ShardsGood, rep.ShardsMissing, rep.ShardsAway, rep.ShardsCorrupt, rep.ShardsRepair, rep.ShardsMovedHome, rep.PacksLost,
				rep.MetaChecked, rep.MetaRepaired, rep.MetaLost, rep.Dangling))
			if !rep.Healthy() {
				return errors.New("scrub found data that cannot be repaired (see above)")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "./holdfast-data", "data directory")
	f.BoolVar(&noRepair, "no-repair", false, "only report; do not rewrite damaged shards")
	f.UintSliceVar(&replaced, "replaced-store", nil, "take the empty directory of local store `ID` as a replaced disk and refill it (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	lf.register(f)
	return cmd
}

func newRebuildIndexCommand() *cobra.Command {
	var (
		data   string
		asJSON bool
		lf     layoutFlags
	)
	cmd := &cobra.Command{
		Use:   "rebuild-index",
		Short: "Recreate the index from the stores alone",
		Long: `Recreate DATA/index from what the stores hold: repository records, packs
(from their verified trailers), snapshots and key files. The new index is
built beside the old one and swapped in when complete; hashed tokens, which
live only in the index, are kept when the old index can still be opened.
Runs offline: stop the server first.`,
		Example: "  holdfastd rebuild-index --data /var/lib/holdfast",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			setMemoryLimit(cgroupMemoryFiles)
			setGCPercent()
			dir, err := openDataDir(data)
			if err != nil {
				return err
			}
			defer dir.Close()
			layout, err := lf.layout(data, cmd.Flags().Changed("shards"))
			if err != nil {
				return err
			}
			rep, err := repo.RebuildIndex(cmd.Context(), repo.Config{DataDir: data, Layout: layout, Log: log})
			if err != nil {
				return fmt.Errorf("rebuild-index: %w", err)
			}
			printReport(asJSON, rep, fmt.Sprintf(
				"rebuild-index: %d repositories, %d packs (%d unreadable), %d chunks, %d snapshots (%d incomplete), %d key files, %d tokens kept",
				rep.Repositories, rep.Packs, rep.PacksLost, rep.Chunks, rep.Snapshots, rep.Incomplete, rep.KeyFiles, rep.Tokens))
			if rep.PacksLost > 0 || rep.Incomplete > 0 {
				return errors.New("some data could not be recovered (see above)")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "./holdfast-data", "data directory")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	lf.register(f)
	return cmd
}

func printReport(asJSON bool, v any, line string) {
	if asJSON {
		b, _ := json.Marshal(v)
		fmt.Println(string(b))
		return
	}
	fmt.Println(line)
}

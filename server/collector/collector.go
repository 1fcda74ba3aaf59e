package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/gc"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/server"
)

// New returns the server's CollectGarbage RPC: gc.Run on the engine with
// the given grace (0: gc.DefaultGrace). The server cannot import gc itself
// (gc's tests drive the server), so this package joins them.
func New(engine *repo.Repo, grace time.Duration, log *slog.Logger) server.GarbageCollector {
	return func(ctx context.Context, repoID uint32, dryRun bool, progress func(server.GCProgress)) (*holdfastv1.GCReport, error) {
		opts := gc.Options{DryRun: dryRun, Grace: grace, Log: log}
		if progress != nil {
			opts.Progress = func(p gc.Progress) { progress(server.GCProgress{Phase: p.Phase, Done: p.Done, Total: p.Total}) }
		}
		rep, err := gc.Run(ctx, engine, repoID, opts)
		if errors.Is(err, gc.ErrBusy) {
			return nil, fmt.Errorf("%w: %v", server.ErrBusy, err)
		}
		if err != nil {
			return nil, err
		}
		return gcReportProto(rep), nil
	}
}

func gcReportProto(r gc.Report) *holdfastv1.GCReport {
	u := func(n int64) uint64 { return uint64(max(n, 0)) }
	return &holdfastv1.GCReport{
		DryRun:                 r.DryRun,
		Snapshots:              uint64(r.Snapshots),
		ChunksLive:             u(r.ChunksLive),
		ChunksDead:             u(r.ChunksDead),
		ChunksInGrace:          u(r.ChunksYoung),
		ChunksFreed:            u(r.ChunksFreed),
		BytesDead:              u(r.BytesDead),
		PacksDeleted:           uint64(r.PacksDeleted),
		PacksRepacked:          uint64(r.PacksRepacked),
		PacksKept:              uint64(r.PacksKept),
		PacksWritten:           uint64(r.PacksWritten),
		PacksKeptRetained:      uint64(r.PacksRetained),
		PacksKeptLocked:        uint64(r.PacksLocked),
		ChunksMoved:            uint64(r.ChunksMoved),
		BytesFreed:             u(r.BytesFreed),
		StoredBytesFreed:       u(r.StoredBytesFreed),
		OrphanShardsDeleted:    uint64(r.OrphanShards),
		OrphanBytesDeleted:     u(r.OrphanBytes),
		PreviousRunInterrupted: r.Interrupted,
		DurationNanos:          int64(r.Duration * float64(time.Second)),
	}
}

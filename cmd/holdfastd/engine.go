package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// layoutFlags are the storage flags of `serve` (and of the offline
// commands, which only accept them when they agree with DATA/layout.json).
type layoutFlags struct {
	stores []string
	shards string
}

func (f *layoutFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.stores, "store", nil, "store `URL`: a directory or s3://BUCKET/PREFIX?endpoint=URL&region=R (repeat for several; default DATA/stores/0)")
	fs.StringVar(&f.shards, "shards", fmt.Sprintf("%d+%d", repo.DefaultK, repo.DefaultM), "erasure layout `K+M`: K data and M parity shards per pack")
}

// layout resolves the flags against DATA/layout.json: on first start the
// flags (or defaults) are recorded; later, flags that contradict the record
// are refused.
func (f *layoutFlags) layout(dataDir string, explicitShards bool) (repo.Layout, error) {
	k, m, err := repo.ParseShards(f.shards)
	if err != nil {
		return repo.Layout{}, usageError{err}
	}
	urls := make([]string, len(f.stores))
	for i, u := range f.stores {
		if !strings.Contains(u, "://") && !filepath.IsAbs(u) {
			// Relative directories on the command line mean relative to
			// where the operator stands, not to DATA.
			if u, err = filepath.Abs(u); err != nil {
				return repo.Layout{}, err
			}
		}
		urls[i] = u
	}
	want := repo.NewLayout(urls, k, m)
	return repo.LoadOrCreateLayout(dataDir, want, len(f.stores) > 0 || explicitShards)
}

// openEngine locks DATA, resolves the layout and opens the storage engine.
func openEngine(ctx context.Context, dataDir string, lf *layoutFlags, explicitShards bool, log *slog.Logger, onDamage func(erasure.Damage)) (*dataDir, *repo.Repo, error) {
	dir, err := openDataDir(dataDir)
	if err != nil {
		return nil, nil, err
	}
	layout, err := lf.layout(dataDir, explicitShards)
	if err != nil {
		dir.Close()
		return nil, nil, err
	}
	r, err := repo.Open(ctx, repo.Config{DataDir: dataDir, Layout: layout, Log: log, OnDamage: onDamage})
	if err != nil {
		dir.Close()
		return nil, nil, fmt.Errorf("open storage: %w", err)
	}
	return dir, r, nil
}

package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/backend/s3"
)

// LayoutFile is the name, inside the data directory, of the file that
// records the store list and shard layout given at first start.
const LayoutFile = "layout.json"

// Default shard layout: 4 data + 2 parity shards. Any two stores (or, with
// a single store, any two shards of a pack) can be lost or rot and every
// chunk still reads back; the space overhead is 50%.
const (
	DefaultK = 4
	DefaultM = 2
)

// Layout is the server's storage layout. It is fixed at first start because
// every stored pack was placed according to it; later starts must agree.
type Layout struct {
	Version int          `json:"version"`
	K       int          `json:"k"`
	M       int          `json:"m"`
	Stores  []StoreEntry `json:"stores"`
}

// StoreEntry is one configured store: a numeric ID that pack records refer
// to, and its URL (a directory path, relative paths taken from the data
// directory, or s3://BUCKET/PREFIX?endpoint=…&region=…).
type StoreEntry struct {
	ID  uint16 `json:"id"`
	URL string `json:"url"`
}

// ParseShards parses "K+M", e.g. "4+2".
func ParseShards(s string) (k, m int, err error) {
	ks, ms, ok := strings.Cut(s, "+")
	k, kerr := strconv.Atoi(ks)
	m, merr := strconv.Atoi(ms)
	if !ok || kerr != nil || merr != nil || k < 1 || m < 0 || k+m > shard.MaxShards {
		return 0, 0, fmt.Errorf("shards %q: want K+M with K >= 1, M >= 0, K+M <= %d (e.g. 4+2)", s, shard.MaxShards)
	}
	return k, m, nil
}

// NewLayout returns the layout for the given store URLs (default: one local
// store "stores/0" inside the data directory) and shard counts.
func NewLayout(urls []string, k, m int) Layout {
	if len(urls) == 0 {
		urls = []string{"stores/0"}
	}
	l := Layout{Version: 1, K: k, M: m}
	for i, u := range urls {
		l.Stores = append(l.Stores, StoreEntry{ID: uint16(i), URL: u})
	}
	return l
}

// Validate checks the layout for internal consistency.
func (l Layout) Validate() error {
	if l.Version != 1 {
		return fmt.Errorf("layout: version %d is not supported", l.Version)
	}
	if l.K < 1 || l.M < 0 || l.K+l.M > shard.MaxShards {
		return fmt.Errorf("layout: shards %d+%d out of range", l.K, l.M)
	}
	if len(l.Stores) == 0 {
		return errors.New("layout: no stores")
	}
	seen := map[uint16]bool{}
	for _, s := range l.Stores {
		if seen[s.ID] || s.URL == "" {
			return fmt.Errorf("layout: store %d is duplicated or has no URL", s.ID)
		}
		seen[s.ID] = true
	}
	return nil
}

// LoadOrCreateLayout reads DATA/layout.json. If it does not exist, it writes
// want there (atomically) and returns it. If it exists and want names stores
// or shards (non-zero), they must match what is recorded: contradicting the
// first start is refused, because packs were placed by the recorded layout.
func LoadOrCreateLayout(dataDir string, want Layout, explicit bool) (Layout, error) {
	path := filepath.Join(dataDir, LayoutFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := want.Validate(); err != nil {
			return Layout{}, err
		}
		return want, writeLayout(path, want)
	}
	if err != nil {
		return Layout{}, fmt.Errorf("read %s: %w", LayoutFile, errors.Unwrap(err))
	}
	var have Layout
	if err := json.Unmarshal(b, &have); err != nil {
		return Layout{}, fmt.Errorf("%s is damaged: %v", LayoutFile, err)
	}
	if err := have.Validate(); err != nil {
		return Layout{}, fmt.Errorf("%s: %w", LayoutFile, err)
	}
	if explicit && !sameLayout(have, want) {
		return Layout{}, fmt.Errorf("--store/--shards contradict the layout recorded at first start (%s); start without them", have)
	}
	return have, nil
}

func sameLayout(a, b Layout) bool {
	if a.K != b.K || a.M != b.M || len(a.Stores) != len(b.Stores) {
		return false
	}
	for i := range a.Stores {
		if a.Stores[i] != b.Stores[i] {
			return false
		}
	}
	return true
}

// String summarises the layout for messages: "4+2 shards over 1 store".
func (l Layout) String() string {
	noun := "stores"
	if len(l.Stores) == 1 {
		noun = "store"
	}
	return fmt.Sprintf("%d+%d shards over %d %s", l.K, l.M, len(l.Stores), noun)
}

func writeLayout(path string, l Layout) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", LayoutFile, errors.Unwrap(err))
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", LayoutFile, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// OpenStore opens the backend a store URL names. Relative directory paths
// are taken from dataDir.
func OpenStore(ctx context.Context, dataDir, url string) (backend.Backend, error) {
	if strings.HasPrefix(url, "s3://") {
		cfg, err := s3.ParseURL(url)
		if err != nil {
			return nil, err
		}
		return s3.New(ctx, cfg)
	}
	if strings.Contains(url, "://") {
		return nil, fmt.Errorf("store %q: unsupported URL scheme (want a directory or s3://)", url)
	}
	dir := url
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(dataDir, dir)
	}
	return local.New(dir)
}

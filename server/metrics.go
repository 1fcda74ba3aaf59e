package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/index"
	"github.com/holdfast-backup/holdfast/server/replication"
)

// Metrics are the server's Prometheus counters, exposed in the text format
// by Metrics.ServeHTTP. Hand-written to keep the dependency set small: the
// server only needs counters and gauges.
type Metrics struct {
	mu       sync.Mutex
	requests map[string]*atomic.Uint64 // "procedure\x00code"

	BytesIn        atomic.Uint64 // envelope bytes received by PutChunks
	BytesOut       atomic.Uint64 // envelope bytes sent by ReadChunks
	ChunksStored   atomic.Uint64
	ChunksDeduped  atomic.Uint64 // uploads of chunks the repository already held
	SessionsOpened atomic.Uint64
	ShardDamage    atomic.Uint64 // damaged or missing shards met by reads and scrubs
	GCRuns         atomic.Uint64
	GCBytesFreed   atomic.Uint64

	// Gauges are read at scrape time.
	gauges map[string]func() float64

	// repl holds one replication's stats per "repo\x00target".
	repl map[string]*replication.Stats

	// stores, when set, reports the local stores' availability at scrape
	// time (the server sets it to its engine's StoreStatus).
	stores func() []repo.StoreStatus
	// engine, when set, reports the engine's counters at scrape time.
	engine func() repo.Stats
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: map[string]*atomic.Uint64{}, gauges: map[string]func() float64{},
		repl: map[string]*replication.Stats{},
	}
}

// Replication returns the stats of replicating repo to target (a label
// without secrets), creating them on first use. Runs to the same target
// share them.
func (m *Metrics) Replication(repo, target string) *replication.Stats {
	key := repo + "\x00" + target
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.repl[key]
	if !ok {
		st = &replication.Stats{}
		m.repl[key] = st
	}
	return st
}

// Gauge registers a gauge read at scrape time.
func (m *Metrics) Gauge(name, help string, read func() float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges[name+"\x00"+help] = read
}

func (m *Metrics) countRequest(procedure string, code connect.Code) {
	key := procedure + "\x00" + code.String()
	m.mu.Lock()
	c, ok := m.requests[key]
	if !ok {
		c = new(atomic.Uint64)
		m.requests[key] = c
	}
	m.mu.Unlock()
	c.Add(1)
}

// interceptor counts every request by procedure and result code.
func (m *Metrics) interceptor() connect.Interceptor { return &metricsInterceptor{m} }

type metricsInterceptor struct{ m *Metrics }

func (i *metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		i.m.countRequest(req.Spec().Procedure, codeOf(err))
		return resp, err
	}
}

func (i *metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		err := next(ctx, conn)
		i.m.countRequest(conn.Spec().Procedure, codeOf(err))
		return err
	}
}

func codeOf(err error) connect.Code {
	if err == nil {
		return 0
	}
	return connect.CodeOf(err)
}

// ServeHTTP writes the metrics in the Prometheus text exposition format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	m.write(w)
}

func (m *Metrics) write(w io.Writer) {
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("holdfast_bytes_in_total", "Sealed chunk bytes received.", m.BytesIn.Load())
	counter("holdfast_bytes_out_total", "Sealed chunk bytes sent to restores.", m.BytesOut.Load())
	counter("holdfast_chunks_stored_total", "Chunks stored.", m.ChunksStored.Load())
	counter("holdfast_chunks_deduplicated_total", "Uploaded chunks the repository already held.", m.ChunksDeduped.Load())
	counter("holdfast_sessions_opened_total", "Upload sessions opened.", m.SessionsOpened.Load())
	counter("holdfast_shard_damage_total", "Damaged or missing shards met by reads and scrubs.", m.ShardDamage.Load())
	m.mu.Lock()
	engine := m.engine
	m.mu.Unlock()
	if engine != nil {
		st := engine()
		counter("holdfast_shards_redirected_total", "Shards written to another store than their placed one because that store failed a write.", st.RedirectedShards)
		counter("holdfast_reads_hedged_total", "Reads that got their bytes from other stores because one had not answered within the hedge delay.", st.SlowReads)
		writePresence(w, st.Presence, counter)
	}
	counter("holdfast_gc_runs_total", "Garbage collections run.", m.GCRuns.Load())
	counter("holdfast_gc_bytes_freed_total", "Bytes freed by garbage collection.", m.GCBytesFreed.Load())

	m.mu.Lock()
	keys := make([]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	gauges := make(map[string]func() float64, len(m.gauges))
	for k, v := range m.gauges {
		gauges[k] = v
	}
	m.mu.Unlock()
	sort.Strings(keys)
	fmt.Fprintf(w, "# HELP holdfast_requests_total RPCs by procedure and code.\n# TYPE holdfast_requests_total counter\n")
	for _, k := range keys {
		proc, code, _ := strings.Cut(k, "\x00")
		if code == "" || code == "code_0" {
			code = "ok"
		}
		m.mu.Lock()
		v := m.requests[k].Load()
		m.mu.Unlock()
		fmt.Fprintf(w, "holdfast_requests_total{procedure=%q,code=%q} %d\n", proc, code, v)
	}
	m.writeReplication(w)
	m.writeStores(w)
	names := make([]string, 0, len(gauges))
	for k := range gauges {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name, help, _ := strings.Cut(k, "\x00")
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, gauges[k]())
	}
}

// writeStores writes holdfast_store_available, one series per store: 0 when
// a local store's directory is gone, on another device (an unmounted disk)
// or not the store (see repo.Open), or an S3 bucket does not answer, so
// that an alert fires before a backup fails on it.
func (m *Metrics) writeStores(w io.Writer) {
	m.mu.Lock()
	stores := m.stores
	m.mu.Unlock()
	if stores == nil {
		return
	}
	st := stores()
	if len(st) == 0 {
		return
	}
	fmt.Fprintf(w, "# HELP holdfast_store_available Whether a store can be used (1) or is unavailable (0).\n# TYPE holdfast_store_available gauge\n")
	for _, s := range st {
		v := 1
		if s.Err != nil {
			v = 0
		}
		fmt.Fprintf(w, "holdfast_store_available{store=\"%d\"} %d\n", s.ID, v)
	}
}

// writeReplication writes the per-target replication series, labelled by
// source repository and target (host/repository).
func (m *Metrics) writeReplication(w io.Writer) {
	m.mu.Lock()
	keys := make([]string, 0, len(m.repl))
	for k := range m.repl {
		keys = append(keys, k)
	}
	stats := make(map[string]*replication.Stats, len(m.repl))
	for k, v := range m.repl {
		stats[k] = v
	}
	m.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	sort.Strings(keys)
	now := time.Now()
	series := []struct {
		name, kind, help string
		value            func(*replication.Stats) float64
	}{
		{"holdfast_replication_lag_seconds", "gauge", "Age of the oldest source snapshot the target lacks; 0 when caught up.", func(s *replication.Stats) float64 { return s.LagSeconds(now) }},
		{"holdfast_replication_lag_snapshots", "gauge", "Source snapshots the target lacks.", func(s *replication.Stats) float64 { return float64(s.LagSnapshots.Load()) }},
		{"holdfast_replication_bytes_sent_total", "counter", "Sealed chunk bytes sent to the target.", func(s *replication.Stats) float64 { return float64(s.BytesSent.Load()) }},
		{"holdfast_replication_snapshots_sent_total", "counter", "Snapshots committed on the target.", func(s *replication.Stats) float64 { return float64(s.SnapshotsSent.Load()) }},
		{"holdfast_replication_errors_total", "counter", "Failed replication passes.", func(s *replication.Stats) float64 { return float64(s.Errors.Load()) }},
	}
	for _, sr := range series {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", sr.name, sr.help, sr.name, sr.kind)
		for _, k := range keys {
			repo, target, _ := strings.Cut(k, "\x00")
			fmt.Fprintf(w, "%s{repo=%q,target=%q} %g\n", sr.name, repo, target, sr.value(stats[k]))
		}
	}
}

// writePresence writes the presence table's metrics (SPEC.md §11.6).
func writePresence(w io.Writer, p index.PresenceStats, counter func(name, help string, v uint64)) {
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	b := func(v bool) int64 {
		if v {
			return 1
		}
		return 0
	}
	gauge("holdfast_index_presence_ready", "1 when the presence table answers FilterMissing; 0 while it is built (the index answers).", b(p.Ready))
	gauge("holdfast_index_presence_io_uring", "1 when the presence table's reads go through io_uring, 0 for pread.", b(p.Ring))
	gauge("holdfast_index_presence_entries", "Chunk IDs in the presence table.", p.Entries)
	gauge("holdfast_index_presence_memory_bytes", "Memory of the presence table's fences and filters.", p.Memory)
	counter("holdfast_index_presence_builds_total", "Presence tables built.", uint64(p.Builds))
	counter("holdfast_index_presence_build_errors_total", "Presence table builds that failed.", uint64(p.Errors))
	counter("holdfast_index_presence_drops_total", "Presence tables dropped (too many deletions, a failed read).", uint64(p.Drops))
	counter("holdfast_index_presence_answered_total", "Chunk IDs FilterMissing answered from the presence table.", uint64(p.Answered))
	counter("holdfast_index_presence_confirmed_total", "Chunk IDs the presence table asked the index about (put since its build).", uint64(p.Confirmed))
}

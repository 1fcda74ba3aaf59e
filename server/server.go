package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/internal/rpccodec"
	"github.com/holdfast-backup/holdfast/repo"
)

// MaxMessageBytes bounds one RPC message: a PutChunks message may carry a
// few maximum-size envelopes; anything larger is refused before it is read.
const MaxMessageBytes = 4*format.MaxEnvelopeSize + 1<<20

// Options configure a Server.
type Options struct {
	Log *slog.Logger
	// SessionLease is how long an upload session lives without KeepAlive;
	// 0 means DefaultSessionLease.
	SessionLease time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Metrics receives counters; nil disables them.
	Metrics *Metrics
	// MaxLock is the longest a lock may reach from now (server clock); 0
	// means DefaultMaxLock.
	MaxLock time.Duration
	// CollectGarbage runs garbage collection on one repository for the
	// CollectGarbage RPC; nil answers Unimplemented. It is injected so this
	// package does not depend on package gc (holdfastd wires gc.Run in).
	CollectGarbage GarbageCollector
	// ReplicateAllow, when not empty, lists the only targets the Replicate
	// RPC may push to (see ParseReplicateAllow); empty allows any. Targets
	// of holdfastd's replication configuration are the operator's own and
	// are not checked.
	ReplicateAllow []AllowedTarget
}

// GarbageCollector runs one collection of repository repoID and reports
// what it freed (or, with dryRun, would free). It calls progress, if not
// nil, as each phase advances (on its own goroutine, synchronously).
type GarbageCollector func(ctx context.Context, repoID uint32, dryRun bool, progress func(GCProgress)) (*holdfastv1.GCReport, error)

// GCProgress is where a running collection is (gc.Progress).
type GCProgress struct {
	Phase       string
	Done, Total int64
}

// DefaultMaxLock bounds lock durations: ten years covers common legal
// retention periods, and a typo cannot lock data for a century.
const DefaultMaxLock = 10 * 365 * 24 * time.Hour

// DefaultSessionLease is the lease of an upload session.
const DefaultSessionLease = 15 * time.Minute

// Server holds what every service handler needs.
type Server struct {
	repo    *repo.Repo
	log     *slog.Logger
	auth    *authenticator
	lease   time.Duration
	now     func() time.Time
	metrics *Metrics
	maxLock time.Duration
	gc      GarbageCollector
	allow   []AllowedTarget

	// sessions orders writes that depend on a session being alive (pins,
	// lease renewals: read side) against the writes that end sessions
	// (commit, abort, sweep: write side); see sessions.go.
	sessions sync.RWMutex

	// commits wakes continuous replications; stopping ends them at
	// shutdown (replicate_notify.go).
	commits  commitHub
	stopping chan struct{}
	stopOnce sync.Once
}

// New returns a server over the storage engine r.
func New(r *repo.Repo, opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionLease <= 0 {
		opts.SessionLease = DefaultSessionLease
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	opts.Metrics.mu.Lock()
	opts.Metrics.stores = r.StoreStatus
	opts.Metrics.engine = r.Stats
	opts.Metrics.mu.Unlock()
	if opts.MaxLock <= 0 {
		opts.MaxLock = DefaultMaxLock
	}
	return &Server{
		repo: r, log: opts.Log, lease: opts.SessionLease, now: opts.Now, metrics: opts.Metrics,
		maxLock: opts.MaxLock, gc: opts.CollectGarbage, allow: opts.ReplicateAllow,
		auth:     &authenticator{repo: r, now: opts.Now},
		stopping: make(chan struct{}),
	}
}

// Handler returns an http.Handler serving every service.
func (s *Server) Handler() http.Handler {
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(MaxMessageBytes),
		connect.WithSendMaxBytes(MaxMessageBytes),
		connect.WithInterceptors(s.metrics.interceptor()),
		// Everything this API carries is ciphertext or random IDs, which
		// never compress: gzip would only burn CPU on both ends.
		connect.WithCompression("gzip", nil, nil),
	}
	mux := http.NewServeMux()
	mux.Handle(holdfastv1connect.NewInfoServiceHandler(NewInfoService(nil, nil), opts...))
	mux.Handle(holdfastv1connect.NewRepoServiceHandler(&RepoService{s}, opts...))
	mux.Handle(holdfastv1connect.NewTokenServiceHandler(&TokenService{s}, opts...))
	mux.Handle(holdfastv1connect.NewUploadServiceHandler(&UploadService{s},
		append(opts, connect.WithCodec(rpccodec.Codec{}))...))
	mux.Handle(holdfastv1connect.NewSnapshotServiceHandler(&SnapshotService{s}, opts...))
	mux.Handle(holdfastv1connect.NewChunkServiceHandler(&ChunkService{s}, opts...))
	mux.Handle(holdfastv1connect.NewRetentionServiceHandler(&RetentionService{s}, opts...))
	mux.Handle(holdfastv1connect.NewReplicationServiceHandler(&ReplicationService{s}, opts...))
	return mux
}

package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/server/replication"
)

// ReplicationTarget is one source repository pushed to one target
// repository, from a ReplicateRequest or from holdfastd's replication
// configuration.
type ReplicationTarget struct {
	Repo       string // source repository on this server
	URL        string // target server, http:// or https://
	Token      string // replicate token of TargetRepo; never logged
	TargetRepo string // empty: same as Repo
	Prune      bool
	BWLimit    int64 // envelope bytes per second; 0 = unlimited
	Parallel   int   // PutChunks streams; 0 = 1
	// Continuous-mode timing; zero values take replication's defaults.
	Rescan, MinBackoff, MaxBackoff time.Duration
	// RootCAs, when set, are the certificate authorities an https target
	// must chain to, instead of the system's (ca_file).
	RootCAs *x509.CertPool
	// HTTPClient overrides the client to the target (tests); RootCAs is
	// then unused.
	HTTPClient *http.Client
}

// validate checks a target and fills TargetRepo. Errors never quote the
// token.
func (t *ReplicationTarget) validate() error {
	u, err := url.Parse(t.URL)
	switch {
	case t.URL == "":
		return fmt.Errorf("target URL is empty")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("target URL %q: want http://HOST:PORT or https://HOST:PORT", t.URL)
	case u.User != nil:
		return fmt.Errorf("target URL must not carry credentials: pass the token separately")
	case !strings.HasPrefix(t.Token, TokenPrefix) || len(t.Token) > 128:
		return fmt.Errorf("target token is missing or malformed (want a replicate token starting with %s)", TokenPrefix)
	case t.Parallel < 0 || t.Parallel > replication.MaxParallel:
		return fmt.Errorf("parallel %d: want 0 to %d", t.Parallel, replication.MaxParallel)
	case t.BWLimit < 0:
		return fmt.Errorf("bwlimit %d: want bytes per second, 0 for none", t.BWLimit)
	}
	if t.TargetRepo == "" {
		t.TargetRepo = t.Repo
	}
	return nil
}

// Label names the target in logs and metrics: host and repository, no
// token, no path.
func (t ReplicationTarget) Label() string {
	host := t.URL
	if u, err := url.Parse(t.URL); err == nil {
		host = u.Host
	}
	return host + "/" + t.TargetRepo
}

// newPusher builds the pusher of one replication.
func (s *Server) newPusher(repoID uint32, t ReplicationTarget, progress func(*holdfastv1.ReplicateResponse)) *replication.Pusher {
	return replication.New(s.repo, repoID, replication.Options{
		Target: replication.Dial(t.URL, t.Token, t.httpClient()), TargetRepo: t.TargetRepo,
		Prune: t.Prune, BWLimit: t.BWLimit, Parallel: t.Parallel,
		Log:      s.log.With("repo", t.Repo, "target", t.Label()),
		Stats:    s.metrics.Replication(t.Repo, t.Label()),
		Progress: progress,
		CopyLock: replication.CopyLockRPC,
	})
}

// httpClient is the client to the target: the override, else one that
// trusts RootCAs, else nil (Dial's default, with the system's roots).
func (t ReplicationTarget) httpClient() *http.Client {
	if t.HTTPClient != nil || t.RootCAs == nil {
		return t.HTTPClient
	}
	return replication.HTTPClient(t.URL, t.RootCAs)
}

// CheckTargets validates targets (and fills their defaults) without
// starting anything, so a bad configuration fails before the server
// listens.
func CheckTargets(targets []ReplicationTarget) error {
	for i := range targets {
		if err := targets[i].validate(); err != nil {
			return fmt.Errorf("replication target %d (%s): %w", i+1, targets[i].Repo, err)
		}
	}
	return nil
}

// StartReplications runs each target in its own goroutine until ctx ends:
// continuous replication configured on the server, with no client
// involved. A target whose source repository does not exist (yet) keeps
// retrying with backoff, so the configuration may name a repository before
// it is created. The returned function waits for every goroutine to end
// (after ctx is done); call it before closing the engine.
func (s *Server) StartReplications(ctx context.Context, targets []ReplicationTarget) (wait func(), err error) {
	if err := CheckTargets(targets); err != nil {
		return func() {}, err
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() { s.runTarget(ctx, t) })
	}
	return wg.Wait, nil
}

// runTarget resolves the source repository (retrying until it exists) and
// runs the pusher's loop.
func (s *Server) runTarget(ctx context.Context, t ReplicationTarget) {
	log := s.log.With("repo", t.Repo, "target", t.Label())
	log.Info("replication started")
	backoff := time.Second
	for {
		id, err := s.repo.RepositoryID(t.Repo)
		if err == nil {
			wake, unsubscribe := s.commits.subscribe(id)
			defer unsubscribe()
			p := s.newPusher(id, t, nil)
			_ = p.Run(ctx, replication.Loop{
				Wake: wake, Rescan: t.Rescan, MinBackoff: t.MinBackoff, MaxBackoff: t.MaxBackoff,
				OnError: func(err error) { log.Warn("replication pass failed; retrying after backoff", "err", err) },
			})
			log.Info("replication stopped")
			return
		}
		log.Warn("replication: source repository not available; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

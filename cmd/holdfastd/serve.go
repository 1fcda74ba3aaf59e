package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/gc"
	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/server"
	"github.com/holdfast-backup/holdfast/server/collector"
)

type serveOptions struct {
	layout  layoutFlags
	data    string
	listen  string
	tlsCert string
	tlsKey  string
	metrics string
	maxLock time.Duration
	gcGrace time.Duration
	// replicateConfig names the JSON file of replication targets.
	replicateConfig string
	// replicateAllow limits the targets of the Replicate RPC.
	replicateAllow []string
}

func newServeCommand() *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the repository server",
		Long: `Run the repository server until SIGTERM or SIGINT.

On first start the data directory is created (mode 0700). Only one holdfastd
may use a data directory at a time; a second one is refused.

On SIGTERM the server stops accepting connections, lets in-flight requests
finish (up to 30 s), and exits 0.

Memory: in a cgroup with a memory limit (a container, a systemd unit with
MemoryMax=), the Go runtime is given 90% of it as its soft limit, so the
garbage collector works harder instead of the kernel killing the server.
GOMEMLIMIT (e.g. GOMEMLIMIT=400MiB) overrides it. The collector runs when
the heap has grown by half of what is live (GOGC=50) unless GOGC is set.`,
		Example: `  holdfastd serve
  holdfastd serve --data /var/lib/holdfast --listen 0.0.0.0:8433 \
      --tls-cert server.crt --tls-key server.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), opts, cmd.Flags().Changed("shards"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.data, "data", "./holdfast-data", "data directory (index, configuration, local stores)")
	f.StringVar(&opts.listen, "listen", "127.0.0.1:8433", "address to listen on")
	f.StringVar(&opts.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serve TLS when given with --tls-key")
	f.StringVar(&opts.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.DurationVar(&opts.maxLock, "max-lock", server.DefaultMaxLock, "longest a snapshot lock may reach from now (`DUR`, e.g. 87600h for 10 years)")
	f.DurationVar(&opts.gcGrace, "gc-grace", gc.DefaultGrace, "garbage collection never removes chunks of packs younger than `DUR` (at least 1m)")
	f.StringVar(&opts.metrics, "metrics", "", "serve Prometheus metrics on `ADDR` at /metrics (e.g. 127.0.0.1:9433)")
	f.StringVar(&opts.replicateConfig, "replicate-config", "", "push repositories to other servers continuously, as configured in JSON `FILE` (SPEC.md §12.5)")
	f.StringSliceVar(&opts.replicateAllow, "replicate-allow", nil, "let 'holdfast admin replicate' push only to these `HOST[:PORT]`s (repeat or comma-separate; default: anywhere this server can reach)")
	opts.layout.register(f)
	return cmd
}

func serve(ctx context.Context, opts serveOptions, explicitShards bool) error {
	if (opts.tlsCert == "") != (opts.tlsKey == "") {
		return usagef("--tls-cert and --tls-key must be given together")
	}
	if opts.gcGrace < gc.MinGrace {
		return usagef("--gc-grace %s: want at least %s", opts.gcGrace, gc.MinGrace)
	}
	if opts.maxLock <= 0 {
		return usagef("--max-lock %s: want a positive duration", opts.maxLock)
	}
	allow, err := server.ParseReplicateAllow(opts.replicateAllow)
	if err != nil {
		return usagef("--%v", err)
	}
	var targets []server.ReplicationTarget
	if opts.replicateConfig != "" {
		if targets, err = loadReplicateConfig(opts.replicateConfig); err != nil {
			return err
		}
		if err := server.CheckTargets(targets); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if msg := setMemoryLimit(cgroupMemoryFiles); msg != "" {
		log.Info(msg)
	}
	setGCPercent()
	metrics := server.NewMetrics()
	onDamage := func(erasure.Damage) { metrics.ShardDamage.Add(1) }
	dir, engine, err := openEngine(ctx, opts.data, &opts.layout, explicitShards, log, onDamage)
	if err != nil {
		return err
	}
	defer dir.Close()
	defer func() {
		if err := engine.Close(context.Background()); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()
	_, created, err := server.EnsureAdminToken(opts.data, engine)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.listen, err)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if opts.metrics != "" {
		if err := serveMetrics(ctx, opts.metrics, metrics, log); err != nil {
			ln.Close()
			return err
		}
	}
	api := server.New(engine, server.Options{Log: log, Metrics: metrics, MaxLock: opts.maxLock,
		CollectGarbage: collector.New(engine, opts.gcGrace, log), ReplicateAllow: allow})
	go api.RunSessionSweeper(ctx, time.Minute)
	replCtx, stopRepl := context.WithCancel(ctx)
	waitRepl, err := api.StartReplications(replCtx, targets)
	if err != nil {
		stopRepl()
		ln.Close()
		return err
	}
	// Runs before the engine closes (defers run last-in first-out): no
	// replication may read the engine after that.
	defer func() { stopRepl(); waitRepl() }()
	srv := server.NewHTTPServer(api.Handler(), log)
	srv.RegisterOnShutdown(api.BeginShutdown)

	scheme := "http"
	if opts.tlsCert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	log.Info("holdfastd serving", "addr", ln.Addr().String(), "layout", engine.Layout().String())
	fmt.Fprintf(os.Stderr, "holdfastd listening on %s\n", url)
	if created {
		tokenFile := filepath.Join(opts.data, server.AdminTokenFile)
		fmt.Fprintf(os.Stderr, "Created the server-admin token in %s (mode 0600). Point a client at this server with:\n"+
			"  export HOLDFAST_SERVER=%s HOLDFAST_TOKEN=$(cat %s)\n", tokenFile, url, tokenFile)
	}
	if err := server.Serve(ctx, srv, ln, opts.tlsCert, opts.tlsKey); err != nil {
		return err
	}
	log.Info("holdfastd stopped cleanly")
	return nil
}

// serveMetrics serves Prometheus metrics on addr at /metrics until ctx ends.
func serveMetrics(ctx context.Context, addr string, m *server.Metrics, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m)
	srv := server.NewHTTPServer(mux, log)
	go func() {
		if err := server.Serve(ctx, srv, ln, "", ""); err != nil {
			log.Error("metrics server", "err", err)
		}
	}()
	return nil
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/server"
)

type serveOptions struct {
	data    string
	listen  string
	tlsCert string
	tlsKey  string
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
finish (up to 30 s), and exits 0.`,
		Example: `  holdfastd serve
  holdfastd serve --data /var/lib/holdfast --listen 0.0.0.0:8433 \
      --tls-cert server.crt --tls-key server.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.data, "data", "./holdfast-data", "data directory (index, configuration, local stores)")
	f.StringVar(&opts.listen, "listen", "127.0.0.1:8433", "address to listen on")
	f.StringVar(&opts.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serve TLS when given with --tls-key")
	f.StringVar(&opts.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	return cmd
}

func serve(ctx context.Context, opts serveOptions) error {
	if (opts.tlsCert == "") != (opts.tlsKey == "") {
		return usagef("--tls-cert and --tls-key must be given together")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	dir, err := openDataDir(opts.data)
	if err != nil {
		return err
	}
	defer dir.Close()

	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle(holdfastv1connect.NewInfoServiceHandler(server.NewInfoService(nil, nil)))
	srv := server.NewHTTPServer(mux, log)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	scheme := "http"
	if opts.tlsCert != "" {
		scheme = "https"
	}
	log.Info("holdfastd serving", "addr", ln.Addr().String(), "data", opts.data)
	fmt.Fprintf(os.Stderr, "holdfastd listening on %s://%s\n", scheme, ln.Addr())
	if err := server.Serve(ctx, srv, ln, opts.tlsCert, opts.tlsKey); err != nil {
		return err
	}
	log.Info("holdfastd stopped cleanly")
	return nil
}

package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts of every HTTP server holdfastd runs. Streams (chunk uploads and
// restores) can legitimately last hours, so there is no whole-request write
// timeout; instead the header and idle timeouts stop slow-loris clients and
// the RPC handlers watch their contexts.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
	ShutdownGrace     = 30 * time.Second
)

// HTTP/2 flow control. Go's server defaults (1 MiB per connection and per
// stream) let a client send one eighth of an 8 MiB PutChunks message
// before it must wait for the handler to read, so the network and the
// handler take turns instead of overlapping. These windows let a client
// keep two whole messages in flight per stream; they are also the most a
// connection can make the server buffer unread (SPEC.md §12.6).
const (
	H2StreamWindow = 16 << 20
	H2ConnWindow   = 64 << 20
	H2MaxFrame     = 1 << 20 // the largest frame the server reads
)

// NewHTTPServer returns an http.Server for h that speaks HTTP/1.1 and
// HTTP/2 (h2c without TLS, h2 with TLS), as Connect, gRPC and gRPC-Web need.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:   h,
		Protocols: &protocols,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerConnection: H2ConnWindow,
			MaxReceiveBufferPerStream:     H2StreamWindow,
			MaxReadFrameSize:              H2MaxFrame,
		},
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve runs srv on ln until ctx is done, then shuts it down gracefully:
// it stops accepting, lets in-flight requests finish for up to
// ShutdownGrace, and then closes what is left. It returns nil after a clean
// shutdown.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, certFile, keyFile string) error {
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return err
}

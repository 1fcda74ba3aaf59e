package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/internal/rpccodec"
)

// Config says which server and repository to talk to.
type Config struct {
	Server string // e.g. http://127.0.0.1:8433
	Token  string // bearer token
	Repo   string // repository name
	// RootCAs, when set, are the certificate authorities an https server
	// must chain to, instead of the system's (--ca-file).
	RootCAs *x509.CertPool
	// HTTPClient overrides the HTTP client (tests); RootCAs is then unused.
	HTTPClient *http.Client
}

// Conn holds the RPC clients of one server, with the token attached to
// every call. It knows no keys: it is what admin commands need.
type Conn struct {
	cfg       Config
	Repos     holdfastv1connect.RepoServiceClient
	Tokens    holdfastv1connect.TokenServiceClient
	Upload    holdfastv1connect.UploadServiceClient
	Snapshots holdfastv1connect.SnapshotServiceClient
	Chunks    holdfastv1connect.ChunkServiceClient
	Info      holdfastv1connect.InfoServiceClient
	Retention holdfastv1connect.RetentionServiceClient
	// Replication is the source side of replication (admin replicate,
	// repo promote).
	Replication holdfastv1connect.ReplicationServiceClient
}

// Dial returns a connection to cfg.Server. It does not contact the server.
func Dial(cfg Config) *Conn {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient(cfg.Server, cfg.RootCAs)
	}
	url := strings.TrimRight(cfg.Server, "/")
	opts := []connect.ClientOption{
		connect.WithInterceptors(bearer("Bearer " + cfg.Token)),
		connect.WithReadMaxBytes(64 << 20),
		connect.WithSendMaxBytes(64 << 20),
	}
	return &Conn{
		cfg:       cfg,
		Repos:     holdfastv1connect.NewRepoServiceClient(hc, url, opts...),
		Tokens:    holdfastv1connect.NewTokenServiceClient(hc, url, opts...),
		Upload:    holdfastv1connect.NewUploadServiceClient(hc, url, opts...),
		Snapshots: holdfastv1connect.NewSnapshotServiceClient(hc, url, opts...),
		// Restores receive their envelopes into pooled buffers, which
		// the ChunkReader hands back once each is opened.
		Chunks:      holdfastv1connect.NewChunkServiceClient(hc, url, append(opts, connect.WithCodec(rpccodec.Codec{}))...),
		Info:        holdfastv1connect.NewInfoServiceClient(hc, url, opts...),
		Retention:   holdfastv1connect.NewRetentionServiceClient(hc, url, opts...),
		Replication: holdfastv1connect.NewReplicationServiceClient(hc, url, opts...),
	}
}

// Repo returns the repository name the connection is for.
func (c *Conn) Repo() string { return c.cfg.Repo }

// HTTP/2 receive windows and frame size of the default client: what the
// server may send ahead on a stream and a connection before the client
// reads it (memory the client may hold in socket buffers, SPEC.md §12.8).
const (
	h2StreamWindow = 16 << 20
	h2ConnWindow   = 64 << 20
	h2MaxFrame     = 1 << 20
)

// defaultHTTPClient speaks HTTP/2 over TLS for https URLs and h2c for http
// URLs, so client streams (uploads) and server streams (restores) are
// multiplexed on one connection either way. roots nil means the system's.
func defaultHTTPClient(server string, roots *x509.CertPool) *http.Client {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	if strings.HasPrefix(server, "http://") {
		protocols = http.Protocols{}
		protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Transport: &http.Transport{
		Protocols: &protocols,
		// Restores stream chunks on up to two ReadChunks streams at once;
		// Go's default per-stream window (4 MiB) stalls a stream whenever
		// the client pauses to open and write a few large chunks.
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerConnection: h2ConnWindow,
			MaxReceiveBufferPerStream:     h2StreamWindow,
			MaxReadFrameSize:              h2MaxFrame,
		},
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ResponseHeaderTimeout: 5 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
	}}
}

// bearer attaches the token to unary and streaming calls.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

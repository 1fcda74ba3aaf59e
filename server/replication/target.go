package replication

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
)

// Target is the connection to the target server: the RPC clients a
// replication needs, with the replicate token attached to every call.
//
// It does not use package client's Conn: client's tests start a server
// in-process, so server must not import client.
type Target struct {
	Repos     holdfastv1connect.RepoServiceClient
	Upload    holdfastv1connect.UploadServiceClient
	Snapshots holdfastv1connect.SnapshotServiceClient
	Retention holdfastv1connect.RetentionServiceClient
}

// messageLimit bounds RPC messages both ways, as the server does.
const messageLimit = 64 << 20

// Dial returns a connection to the server at url (http:// speaks h2c,
// https:// h2 over TLS with the system roots unless hc is given). It does
// not contact the server.
func Dial(url, token string, hc *http.Client) *Target {
	if hc == nil {
		hc = HTTPClient(url, nil)
	}
	url = strings.TrimRight(url, "/")
	opts := []connect.ClientOption{
		connect.WithInterceptors(bearer("Bearer " + token)),
		connect.WithReadMaxBytes(messageLimit),
		connect.WithSendMaxBytes(messageLimit),
	}
	return &Target{
		Repos:     holdfastv1connect.NewRepoServiceClient(hc, url, opts...),
		Upload:    holdfastv1connect.NewUploadServiceClient(hc, url, opts...),
		Snapshots: holdfastv1connect.NewSnapshotServiceClient(hc, url, opts...),
		Retention: holdfastv1connect.NewRetentionServiceClient(hc, url, opts...),
	}
}

// HTTPClient returns the client Dial uses by default, trusting roots
// instead of the system's certificate authorities when roots is not nil.
// It multiplexes every stream of a replication on one HTTP/2 connection,
// so parallel PutChunks streams share one TCP connection.
func HTTPClient(url string, roots *x509.CertPool) *http.Client {
	var protocols http.Protocols
	if strings.HasPrefix(url, "http://") {
		protocols.SetUnencryptedHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
	}
	return &http.Client{Transport: &http.Transport{
		Protocols:             &protocols,
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

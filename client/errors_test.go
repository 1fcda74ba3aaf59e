package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
)

// unavailableInfo answers every GetInfo with a server-sent unavailable, as
// the server does for a read-only store.
type unavailableInfo struct {
	holdfastv1connect.UnimplementedInfoServiceHandler
}

func (unavailableInfo) GetInfo(context.Context, *connect.Request[holdfastv1.GetInfoRequest]) (*connect.Response[holdfastv1.GetInfoResponse], error) {
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("a store is read-only: no new data can be stored until it is writable again"))
}

// TestFromRPCUnavailable: an unavailable the server answered says what it
// is and not "server unreachable"; a failure with no answer at all (nothing
// listens) does say "server unreachable". Both over real sockets.
func TestFromRPCUnavailable(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(holdfastv1connect.NewInfoServiceHandler(unavailableInfo{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(url string) error {
		c := holdfastv1connect.NewInfoServiceClient(http.DefaultClient, url)
		_, err := c.GetInfo(context.Background(), connect.NewRequest(&holdfastv1.GetInfoRequest{}))
		return fromRPC("info", err)
	}

	err := call(srv.URL)
	if err == nil || strings.Contains(err.Error(), "unreachable") ||
		!strings.Contains(err.Error(), "info: unavailable: a store is read-only") {
		t.Errorf("server-sent unavailable: got %v, want \"info: unavailable: a store is read-only…\" and no \"unreachable\"", err)
	}

	// A port that was just free: the dial is refused, no HTTP response.
	l, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	addr := l.Addr().String()
	l.Close()
	err = call("http://" + addr)
	if err == nil || !strings.HasPrefix(err.Error(), "info: server unreachable: ") {
		t.Errorf("nothing listening: got %v, want \"info: server unreachable: …\"", err)
	}
}

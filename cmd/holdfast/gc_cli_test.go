package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/server"
)

// TestCLIGCStreamAndFallback: gc uses the streaming RPC, and against a
// server that lacks it (404, as an older server answers) falls back to the
// unary call with the same output.
func TestCLIGCStreamAndFallback(t *testing.T) {
	for _, withStream := range []bool{true, false} {
		var streamed, unary atomic.Int32
		wrap := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case holdfastv1connect.RetentionServiceCollectGarbageStreamProcedure:
					streamed.Add(1)
					if !withStream {
						http.NotFound(w, r)
						return
					}
				case holdfastv1connect.RetentionServiceCollectGarbageProcedure:
					unary.Add(1)
				}
				next.ServeHTTP(w, r)
			})
		}
		srv := newCLIServerFull(t, server.Options{CollectGarbage: cliGC}, wrap)
		admin, _, _ := cliSetup(t, srv, "gc")
		r := admin.run(t, "gc", "--json").want(t, 0, "gc --json")
		var g gcJSON
		if err := json.Unmarshal([]byte(r.stdout), &g); err != nil || g.ChunksDead != 3 || g.BytesFreed != 4096 {
			t.Fatalf("stream=%v: gc --json: %v: %s", withStream, err, r.stdout)
		}
		wantUnary := int32(0)
		if !withStream {
			wantUnary = 1
		}
		if streamed.Load() != 1 || unary.Load() != wantUnary {
			t.Fatalf("stream=%v: %d streaming and %d unary calls, want 1 and %d", withStream, streamed.Load(), unary.Load(), wantUnary)
		}
		if r.stderr != "" {
			t.Fatalf("stream=%v: progress on a non-terminal stderr: %q", withStream, r.stderr)
		}
	}
}

// TestGCProgressLine: the progress line rewrites itself in place and is
// cleared at the end.
func TestGCProgressLine(t *testing.T) {
	var b bytes.Buffer
	show := gcProgress(&b)
	show(client.GCProgress{Phase: "start"})
	show(client.GCProgress{Phase: "seal", Done: 5, Total: 9})
	show(client.GCProgress{Phase: "done"})
	out := b.String()
	for _, want := range []string{"\r\033[Kgc: start", "\r\033[Kgc: seal 5 / 9", "\r\033[K"} {
		if !strings.Contains(out, want) {
			t.Fatalf("progress output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "\n") || !strings.HasSuffix(out, "\r\033[K") {
		t.Fatalf("progress output %q: want one rewritten line, cleared at the end", out)
	}
	gcProgress(nil)(client.GCProgress{Phase: "seal"}) // no terminal: nothing, no panic
}

package server

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// Who may call an RPC, from CONTRACT.md, Roles (and SPEC.md §12.2, which
// lists the same matrix per RPC):
//
//	upload/commit        backup, admin, replicate
//	list                 backup, restore, admin, replicate
//	read/restore         backup, restore, admin
//	forget/gc/unlock, lock, tokens (own repository)   admin
//	key files            admin (init), replicate (copies key files, §12.5)
//	repositories, server-admin tokens   server admin only
//
// The server admin may call every RPC on every repository; InfoService
// needs no token at all. Everyone else is refused: without a valid token
// with Unauthenticated, with a valid token of the wrong role or of another
// repository with PermissionDenied.
const (
	whoPublic = "public"
	whoServer = "" // server admin only
	whoUpload = "backup admin replicate"
	whoList   = "backup restore admin replicate"
	whoRead   = "backup restore admin"
	whoAdmin  = "admin"
	whoPutKey = "admin replicate"
)

// matrixRPC is one row of the matrix: an RPC called with dummy arguments.
// A call that is allowed may still fail for other reasons (no such
// snapshot, bad key file); the matrix only looks at authorization.
type matrixRPC struct {
	name   string
	who    string
	scoped bool // names a repository, so tenant isolation applies
	call   func(ctx context.Context, c *authClients, repo string) error
}

var (
	matrixZeroID      = make([]byte, 32)
	matrixZeroSession = make([]byte, 16)
)

func rpcErr[T any](_ *connect.Response[T], err error) error { return err }

// drainErr receives a server stream to its end and returns its error.
func drainErr[T any](s *connect.ServerStreamForClient[T], err error) error {
	if err != nil {
		return err
	}
	defer s.Close()
	for s.Receive() {
	}
	return s.Err()
}

var matrixRPCs = []matrixRPC{
	{"Info.GetInfo", whoPublic, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.info.GetInfo(ctx, connect.NewRequest(&holdfastv1.GetInfoRequest{})))
	}},
	{"Info.Health", whoPublic, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.info.Health(ctx, connect.NewRequest(&holdfastv1.HealthRequest{})))
	}},

	{"Repo.CreateRepo", whoServer, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.repo.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: "matrix-new"})))
	}},
	{"Repo.ListRepos", whoServer, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.repo.ListRepos(ctx, connect.NewRequest(&holdfastv1.ListReposRequest{})))
	}},
	{"Repo.PutKeyFile", whoPutKey, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.repo.PutKeyFile(ctx, connect.NewRequest(&holdfastv1.PutKeyFileRequest{Repo: repo, KeyFile: []byte("not a key file")})))
	}},
	{"Repo.ListKeyFiles", whoList, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.repo.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: repo})))
	}},
	{"Repo.GetStats", whoList, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.repo.GetStats(ctx, connect.NewRequest(&holdfastv1.GetStatsRequest{Repo: repo})))
	}},

	{"Token.CreateToken", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.token.CreateToken(ctx, connect.NewRequest(&holdfastv1.CreateTokenRequest{Repo: repo, Role: holdfastv1.Role_ROLE_RESTORE, Label: "matrix"})))
	}},
	{"Token.ListTokens", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.token.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{Repo: repo})))
	}},
	{"Token.RevokeToken", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.token.RevokeToken(ctx, connect.NewRequest(&holdfastv1.RevokeTokenRequest{Repo: repo, Id: "0000000000000000"})))
	}},
	{"Token.CreateToken(server)", whoServer, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.token.CreateToken(ctx, connect.NewRequest(&holdfastv1.CreateTokenRequest{Role: holdfastv1.Role_ROLE_ADMIN, Label: "matrix"})))
	}},
	{"Token.ListTokens(server)", whoServer, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.token.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{})))
	}},
	{"Token.RevokeToken(server)", whoServer, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.token.RevokeToken(ctx, connect.NewRequest(&holdfastv1.RevokeTokenRequest{Id: "0000000000000000"})))
	}},

	{"Upload.BeginSession", whoUpload, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: repo})))
	}},
	{"Upload.KeepAlive", whoUpload, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.upload.KeepAlive(ctx, connect.NewRequest(&holdfastv1.KeepAliveRequest{Repo: repo, SessionId: matrixZeroSession})))
	}},
	{"Upload.FilterMissing", whoUpload, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.upload.FilterMissing(ctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{Repo: repo, SessionId: matrixZeroSession, Ids: [][]byte{matrixZeroID}})))
	}},
	{"Upload.PutChunks", whoUpload, true, func(ctx context.Context, c *authClients, repo string) error {
		s := c.upload.PutChunks(ctx)
		if err := s.Send(&holdfastv1.PutChunksRequest{Repo: repo, SessionId: matrixZeroSession}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return rpcErr(s.CloseAndReceive())
	}},
	{"Upload.Commit", whoUpload, true, func(ctx context.Context, c *authClients, repo string) error {
		s := c.upload.Commit(ctx)
		hdr := &holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{
			Repo: repo, SessionId: matrixZeroSession, Header: []byte("not a header"),
		}}}
		if err := s.Send(hdr); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return rpcErr(s.CloseAndReceive())
	}},
	{"Upload.Abort", whoUpload, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.upload.Abort(ctx, connect.NewRequest(&holdfastv1.AbortRequest{Repo: repo, SessionId: matrixZeroSession})))
	}},

	{"Snapshot.ListSnapshots", whoList, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.snap.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: repo})))
	}},
	{"Snapshot.GetSnapshot", whoList, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: repo, Id: matrixZeroID})))
	}},
	{"Snapshot.ReadRefs", whoRead, true, func(ctx context.Context, c *authClients, repo string) error {
		return drainErr(c.snap.ReadRefs(ctx, connect.NewRequest(&holdfastv1.ReadRefsRequest{Repo: repo, Id: matrixZeroID})))
	}},
	{"Snapshot.DeleteSnapshot", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: repo, Id: matrixZeroID})))
	}},

	{"Retention.Forget", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.ret.Forget(ctx, connect.NewRequest(&holdfastv1.ForgetRequest{Repo: repo, Ids: [][]byte{matrixZeroID}})))
	}},
	{"Retention.Lock", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.ret.Lock(ctx, connect.NewRequest(&holdfastv1.LockRequest{Repo: repo, Id: matrixZeroID,
			Mode: holdfastv1.LockMode_LOCK_MODE_GOVERNANCE, UntilUnixNano: time.Now().Add(24 * time.Hour).UnixNano()})))
	}},
	{"Retention.Unlock", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.ret.Unlock(ctx, connect.NewRequest(&holdfastv1.UnlockRequest{Repo: repo, Id: matrixZeroID})))
	}},
	{"Retention.CollectGarbage", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return rpcErr(c.ret.CollectGarbage(ctx, connect.NewRequest(&holdfastv1.CollectGarbageRequest{Repo: repo, DryRun: true})))
	}},
	{"Retention.CollectGarbageStream", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return drainErr(c.ret.CollectGarbageStream(ctx, connect.NewRequest(&holdfastv1.CollectGarbageStreamRequest{Repo: repo, DryRun: true})))
	}},

	// Replicate with no target URL: invalid_argument once authorized.
	{"Replication.Replicate", whoAdmin, true, func(ctx context.Context, c *authClients, repo string) error {
		return drainErr(c.repl.Replicate(ctx, connect.NewRequest(&holdfastv1.ReplicateRequest{Repo: repo})))
	}},
	{"Replication.SetReplica", whoServer, false, func(ctx context.Context, c *authClients, _ string) error {
		return rpcErr(c.repl.SetReplica(ctx, connect.NewRequest(&holdfastv1.SetReplicaRequest{Repo: "matrix-none", Replica: true})))
	}},
	{"Chunk.ReadChunks", whoRead, true, func(ctx context.Context, c *authClients, repo string) error {
		return drainErr(c.chunk.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: repo, Ids: [][]byte{matrixZeroID}})))
	}},
}

// matrixOutcome is what the table expects of one cell.
type matrixOutcome int

const (
	outAllowed matrixOutcome = iota
	outUnauthenticated
	outDenied
)

func (o matrixOutcome) String() string {
	return [...]string{"allowed", "unauthenticated", "permission_denied"}[o]
}

// matrixExpect derives a cell from the row's who and the principal.
func matrixExpect(who, principal string) matrixOutcome {
	switch {
	case who == whoPublic:
		return outAllowed
	case principal == "none" || principal == "garbage" || principal == "expired":
		return outUnauthenticated
	case principal == "server":
		return outAllowed
	case slices.Contains(strings.Fields(who), principal): // roles of repository alpha
		return outAllowed
	}
	return outDenied // other roles, and adminB (a token of repository beta)
}

// matrixOutcomeOf classifies a result; ok is false for codes that prove
// nothing about authorization: Unimplemented (a placeholder handler) and
// Internal or Unknown (a handler that broke on the dummy arguments instead
// of refusing them).
func matrixOutcomeOf(err error) (out matrixOutcome, ok bool) {
	switch codeOf(err) {
	case connect.CodeUnauthenticated:
		return outUnauthenticated, true
	case connect.CodePermissionDenied:
		return outDenied, true
	case connect.CodeUnimplemented, connect.CodeInternal, connect.CodeUnknown:
		return outAllowed, false
	}
	return outAllowed, true
}

// TestRoleMatrix calls every RPC of every service as every principal, over
// Connect and gRPC on a loopback listener, and checks the outcome against
// the table above. Calls name repository alpha.
func TestRoleMatrix(t *testing.T) {
	f := newAuthFixture(t)
	for _, proto := range []string{"connect", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			for _, rpc := range matrixRPCs {
				t.Run(rpc.name, func(t *testing.T) {
					for _, p := range matrixPrincipals {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						err := rpc.call(ctx, f.clientsFor(f.tokens[p], proto == "grpc"), "alpha")
						cancel()
						want := matrixExpect(rpc.who, p)
						got, ok := matrixOutcomeOf(err)
						if !ok {
							t.Errorf("%-9s want %s, got %v", p, want, err)
						} else if got != want {
							t.Errorf("%-9s want %s, got %s: %v", p, want, got, err)
						}
					}
				})
			}
		})
	}
}

// TestTenantIsolation checks that a token learns nothing about another
// repository: naming a foreign repository that exists and one that does
// not give the identical error.
func TestTenantIsolation(t *testing.T) {
	f := newAuthFixture(t)
	probes := []struct{ principal, foreign string }{
		{"adminB", "alpha"},
		{"admin", "beta"},
		{"backup", "beta"},
		{"restore", "beta"},
		{"replicate", "beta"},
	}
	for _, rpc := range matrixRPCs {
		if !rpc.scoped {
			continue
		}
		t.Run(rpc.name, func(t *testing.T) {
			for _, pr := range probes {
				c := f.as(pr.principal)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				errForeign := rpc.call(ctx, c, pr.foreign)
				errAbsent := rpc.call(ctx, c, "no-such-repo")
				cancel()
				if codeOf(errForeign) != connect.CodePermissionDenied {
					t.Errorf("%s on %s: got %v, want permission_denied", pr.principal, pr.foreign, errForeign)
					continue
				}
				if codeOf(errAbsent) != codeOf(errForeign) || authErrMessage(errAbsent) != authErrMessage(errForeign) {
					t.Errorf("%s: foreign repository and absent repository answer differently:\n  %v\n  %v", pr.principal, errForeign, errAbsent)
				}
			}
		})
	}
}

func authErrMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

func rpcCreateToken(ctx context.Context, c *authClients, repo string, role holdfastv1.Role, ttl int64, label string) (*holdfastv1.CreateTokenResponse, error) {
	resp, err := c.token.CreateToken(ctx, connect.NewRequest(&holdfastv1.CreateTokenRequest{Repo: repo, Role: role, TtlSeconds: ttl, Label: label}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func listKeyFilesErr(ctx context.Context, tok, repo string, f *authFixture) error {
	_, err := f.clientsFor(tok, false).repo.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: repo}))
	return err
}

func TestCreateTokenScope(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	server, admin := f.as("server"), f.as("admin")

	// The server admin issues any role for any repository; the token works
	// for what its role allows and is stored only as a hash.
	for _, role := range []holdfastv1.Role{holdfastv1.Role_ROLE_BACKUP, holdfastv1.Role_ROLE_RESTORE, holdfastv1.Role_ROLE_ADMIN, holdfastv1.Role_ROLE_REPLICATE} {
		tok, err := rpcCreateToken(ctx, server, "beta", role, 0, "")
		authWant(t, "server creates "+role.String(), err, 0)
		if !strings.HasPrefix(tok.Token, TokenPrefix) || len(tok.Token) != len(TokenPrefix)+43 {
			t.Fatalf("token %q has the wrong form", tok.Token)
		}
		if tok.Id != TokenID(HashToken(tok.Token)) {
			t.Fatalf("ID %s is not the hash prefix", tok.Id)
		}
		rec, err := f.eng.Index().GetToken(HashToken(tok.Token))
		if err != nil || rec.Repo != f.beta || int(rec.Role) != int(role) || !rec.Expires.IsZero() || !rec.Created.Equal(f.clock.Now()) {
			t.Fatalf("stored %+v (%v)", rec, err)
		}
		authWant(t, role.String()+" token lists key files", listKeyFilesErr(ctx, tok.Token, "beta", f), 0)
		authWant(t, role.String()+" token on alpha", listKeyFilesErr(ctx, tok.Token, "alpha", f), connect.CodePermissionDenied)
	}

	// Server-admin tokens: empty repository, role ADMIN only.
	sa, err := rpcCreateToken(ctx, server, "", holdfastv1.Role_ROLE_ADMIN, 0, "second admin")
	authWant(t, "server creates server admin", err, 0)
	_, err = f.clientsFor(sa.Token, false).repo.ListRepos(ctx, connect.NewRequest(&holdfastv1.ListReposRequest{}))
	authWant(t, "new server admin lists repos", err, 0)
	_, err = rpcCreateToken(ctx, server, "", holdfastv1.Role_ROLE_BACKUP, 0, "")
	authWant(t, "server-wide backup token", err, connect.CodeInvalidArgument)
	_, err = rpcCreateToken(ctx, server, "no-such", holdfastv1.Role_ROLE_BACKUP, 0, "")
	authWant(t, "token for absent repository", err, connect.CodeNotFound)

	// A repository admin: its own repository only, never server-wide.
	own, err := rpcCreateToken(ctx, admin, "alpha", holdfastv1.Role_ROLE_BACKUP, 0, "db-1")
	authWant(t, "repo admin creates backup", err, 0)
	authWant(t, "its backup token reads", listKeyFilesErr(ctx, own.Token, "alpha", f), 0)
	_, err = f.clientsFor(own.Token, false).snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: "alpha", Id: make([]byte, 32)}))
	authWant(t, "its backup token deletes", err, connect.CodePermissionDenied)
	_, err = rpcCreateToken(ctx, admin, "alpha", holdfastv1.Role_ROLE_ADMIN, 0, "")
	authWant(t, "repo admin creates repo admin", err, 0)
	_, err = rpcCreateToken(ctx, admin, "beta", holdfastv1.Role_ROLE_BACKUP, 0, "")
	authWant(t, "repo admin creates for another repo", err, connect.CodePermissionDenied)
	_, err = rpcCreateToken(ctx, admin, "", holdfastv1.Role_ROLE_ADMIN, 0, "")
	authWant(t, "repo admin creates server admin", err, connect.CodePermissionDenied)
	for _, p := range []string{"backup", "restore", "replicate"} {
		_, err = rpcCreateToken(ctx, f.as(p), "alpha", holdfastv1.Role_ROLE_RESTORE, 0, "")
		authWant(t, p+" creates token", err, connect.CodePermissionDenied)
	}

	// Arguments, checked after authorization.
	bad := []struct {
		name  string
		role  holdfastv1.Role
		ttl   int64
		label string
	}{
		{"unspecified role", holdfastv1.Role_ROLE_UNSPECIFIED, 0, ""},
		{"unknown role", holdfastv1.Role(99), 0, ""},
		{"negative ttl", holdfastv1.Role_ROLE_BACKUP, -1, ""},
		{"huge ttl", holdfastv1.Role_ROLE_BACKUP, 1 << 62, ""},
		{"long label", holdfastv1.Role_ROLE_BACKUP, 0, strings.Repeat("x", indexkey.MaxLabelLen+1)},
	}
	for _, b := range bad {
		_, err = rpcCreateToken(ctx, admin, "alpha", b.role, b.ttl, b.label)
		authWant(t, b.name, err, connect.CodeInvalidArgument)
	}
	_, err = rpcCreateToken(ctx, admin, "alpha", holdfastv1.Role_ROLE_BACKUP, 0, strings.Repeat("é", indexkey.MaxLabelLen/2))
	authWant(t, "label of the maximum length", err, 0)
}

func TestListTokens(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	tok, err := rpcCreateToken(ctx, f.as("admin"), "alpha", holdfastv1.Role_ROLE_RESTORE, 3600, "restore of db-1")
	authWant(t, "create", err, 0)

	resp, err := f.as("admin").token.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{Repo: "alpha"}))
	authWant(t, "list alpha", err, 0)
	// expired, backup, restore, admin, replicate of the fixture + the new one.
	if n := len(resp.Msg.Tokens); n != 6 {
		t.Fatalf("alpha lists %d tokens, want 6", n)
	}
	var found *holdfastv1.TokenInfo
	for _, ti := range resp.Msg.Tokens {
		if len(ti.Id) != 16 || strings.Contains(ti.String(), TokenPrefix) {
			t.Fatalf("token info %v shows more than an ID", ti)
		}
		if ti.Id == tok.Id {
			found = ti
		}
	}
	now := f.clock.Now()
	if found == nil || found.Role != holdfastv1.Role_ROLE_RESTORE || found.Label != "restore of db-1" ||
		found.CreatedUnixNano != now.UnixNano() || found.ExpiresUnixNano != now.Add(time.Hour).UnixNano() {
		t.Fatalf("new token listed as %v", found)
	}

	// Scope: the repository admin sees only its repository.
	_, err = f.as("admin").token.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{Repo: "beta"}))
	authWant(t, "alpha admin lists beta", err, connect.CodePermissionDenied)
	_, err = f.as("admin").token.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{}))
	authWant(t, "alpha admin lists server tokens", err, connect.CodePermissionDenied)
	beta, err := f.as("server").token.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{Repo: "beta"}))
	authWant(t, "server lists beta", err, 0)
	if len(beta.Msg.Tokens) != 1 || beta.Msg.Tokens[0].Id != TokenID(HashToken(f.tokens["adminB"])) {
		t.Fatalf("beta lists %v", beta.Msg.Tokens)
	}
	srv, err := f.as("server").token.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{}))
	authWant(t, "server lists server tokens", err, 0)
	if len(srv.Msg.Tokens) != 1 || srv.Msg.Tokens[0].Role != holdfastv1.Role_ROLE_ADMIN || srv.Msg.Tokens[0].Label != adminTokenLabel {
		t.Fatalf("server tokens %v", srv.Msg.Tokens)
	}
}

func TestRevokeToken(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	revoke := func(c *authClients, repo, id string) error {
		_, err := c.token.RevokeToken(ctx, connect.NewRequest(&holdfastv1.RevokeTokenRequest{Repo: repo, Id: id}))
		return err
	}
	idOf := func(p string) string { return TokenID(HashToken(f.tokens[p])) }

	// Refused from the very next request on.
	authWant(t, "backup before revoke", listKeyFilesErr(ctx, f.tokens["backup"], "alpha", f), 0)
	authWant(t, "revoke backup", revoke(f.as("admin"), "alpha", idOf("backup")), 0)
	authWant(t, "backup after revoke", listKeyFilesErr(ctx, f.tokens["backup"], "alpha", f), connect.CodeUnauthenticated)
	authWant(t, "revoke twice", revoke(f.as("admin"), "alpha", idOf("backup")), connect.CodeNotFound)

	// Another scope's token is "not found", and keeps working.
	errForeign := revoke(f.as("admin"), "alpha", idOf("adminB"))
	errAbsent := revoke(f.as("admin"), "alpha", "0123456789abcdef")
	authWant(t, "alpha admin revokes beta's token", errForeign, connect.CodeNotFound)
	if authErrMessage(errForeign) != strings.Replace(authErrMessage(errAbsent), "0123456789abcdef", idOf("adminB"), 1) {
		t.Fatalf("foreign and absent token answer differently: %v / %v", errForeign, errAbsent)
	}
	authWant(t, "beta admin still works", listKeyFilesErr(ctx, f.tokens["adminB"], "beta", f), 0)
	authWant(t, "alpha admin revokes in beta", revoke(f.as("admin"), "beta", idOf("adminB")), connect.CodePermissionDenied)
	authWant(t, "alpha admin revokes the server admin", revoke(f.as("admin"), "", idOf("server")), connect.CodePermissionDenied)
	authWant(t, "alpha admin revokes the server admin in alpha", revoke(f.as("admin"), "alpha", idOf("server")), connect.CodeNotFound)
	authWant(t, "restore revokes", revoke(f.as("restore"), "alpha", idOf("restore")), connect.CodePermissionDenied)

	for _, id := range []string{"", "xyz", "0123456789ABCDEF", "0123456789abcdef0", f.tokens["restore"]} {
		authWant(t, "revoke "+id, revoke(f.as("admin"), "alpha", id), connect.CodeInvalidArgument)
	}

	// The server admin revokes in any scope; a token may revoke itself.
	authWant(t, "server revokes beta admin", revoke(f.as("server"), "beta", idOf("adminB")), 0)
	authWant(t, "beta admin after revoke", listKeyFilesErr(ctx, f.tokens["adminB"], "beta", f), connect.CodeUnauthenticated)
	authWant(t, "admin revokes itself", revoke(f.as("admin"), "alpha", idOf("admin")), 0)
	authWant(t, "admin after revoke", listKeyFilesErr(ctx, f.tokens["admin"], "alpha", f), connect.CodeUnauthenticated)
}

func TestTokenExpiry(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	tok, err := rpcCreateToken(ctx, f.as("server"), "alpha", holdfastv1.Role_ROLE_RESTORE, 60, "")
	authWant(t, "create", err, 0)
	authWant(t, "fresh", listKeyFilesErr(ctx, tok.Token, "alpha", f), 0)
	f.clock.Advance(59 * time.Second)
	authWant(t, "after 59s", listKeyFilesErr(ctx, tok.Token, "alpha", f), 0)
	f.clock.Advance(time.Second)
	authWant(t, "at expiry", listKeyFilesErr(ctx, tok.Token, "alpha", f), connect.CodeUnauthenticated)
	// A token without a TTL never expires.
	f.clock.Advance(50 * 365 * 24 * time.Hour)
	authWant(t, "no-TTL token much later", listKeyFilesErr(ctx, f.tokens["restore"], "alpha", f), 0)
}

func TestMalformedAuthorization(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	good := f.tokens["restore"]
	for name, h := range map[string]string{
		"basic scheme":  "Basic " + good,
		"no scheme":     good,
		"lower bearer":  "bearer " + good,
		"no prefix":     "Bearer " + strings.TrimPrefix(good, TokenPrefix),
		"too long":      "Bearer " + good + strings.Repeat("A", 100),
		"trailing junk": "Bearer " + good + "x",
		"empty bearer":  "Bearer ",
	} {
		req := connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: "alpha"})
		req.Header().Set("Authorization", h)
		_, err := f.clientsFor("", false).repo.ListKeyFiles(ctx, req)
		authWant(t, name, err, connect.CodeUnauthenticated)
		if msg := authErrMessage(err); strings.Contains(msg, good) || msg != errUnauthenticated.Error() {
			t.Fatalf("%s: message %q", name, msg)
		}
	}
}

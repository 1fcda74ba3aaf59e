package server

import (
	"context"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
)

// MaxTokenTTL bounds CreateToken's ttl_seconds: long enough for "never
// rotate" setups, short enough that expiry times never overflow.
const MaxTokenTTL = 100 * 365 * 24 * time.Hour

// TokenService issues, lists and revokes bearer tokens (SPEC.md §12.2).
//
// Scope: a request's repo names the tokens it acts on. A server admin may
// name any repository, or none (empty) for server-admin tokens; a
// repository admin only its own repository. Everyone else is refused.
type TokenService struct{ *Server }

var _ holdfastv1connect.TokenServiceHandler = (*TokenService)(nil)

// scope authorizes the caller for the tokens of repository name (empty:
// server-admin tokens) and returns the repository's numeric ID (0 for the
// server scope).
func (s *TokenService) scope(h http.Header, name string) (uint32, error) {
	if name == "" {
		_, _, err := s.auth.authorize(h, "", ActServerAdmin)
		return 0, err
	}
	_, id, err := s.auth.authorize(h, name, ActAdmin)
	return id, err
}

// CreateToken issues a token and returns its text, once.
func (s *TokenService) CreateToken(_ context.Context, req *connect.Request[holdfastv1.CreateTokenRequest]) (*connect.Response[holdfastv1.CreateTokenResponse], error) {
	const op = "CreateToken"
	id, err := s.scope(req.Header(), req.Msg.GetRepo())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	rec, err := s.tokenRecord(id, req.Msg)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	tok, hash, err := NewToken()
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	b := s.repo.Index().NewBatch()
	defer b.Close()
	b.PutToken(hash, rec)
	if err := b.Commit(true); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	tid := TokenID(hash)
	s.log.Info("token created", "token_id", tid, "repo", req.Msg.GetRepo(), "role", rec.Role.String())
	return connect.NewResponse(&holdfastv1.CreateTokenResponse{Token: tok, Id: tid}), nil
}

// tokenRecord validates a CreateToken request for scope repoID.
func (s *TokenService) tokenRecord(repoID uint32, m *holdfastv1.CreateTokenRequest) (indexkey.TokenRecord, error) {
	role, ok := roleFromProto(m.GetRole())
	if !ok {
		return indexkey.TokenRecord{}, fmt.Errorf("%w: role must be BACKUP, RESTORE, ADMIN or REPLICATE", errBadRequest)
	}
	if repoID == 0 && role != indexkey.RoleAdmin {
		return indexkey.TokenRecord{}, fmt.Errorf("%w: a token without a repository is a server-admin token: role must be ADMIN", errBadRequest)
	}
	ttl := m.GetTtlSeconds()
	if ttl < 0 || ttl > int64(MaxTokenTTL/time.Second) {
		return indexkey.TokenRecord{}, fmt.Errorf("%w: ttl_seconds must be 0 (no expiry) to %d", errBadRequest, int64(MaxTokenTTL/time.Second))
	}
	label := m.GetLabel()
	if len(label) > indexkey.MaxLabelLen || !utf8.ValidString(label) {
		return indexkey.TokenRecord{}, fmt.Errorf("%w: label must be valid UTF-8 of at most %d bytes", errBadRequest, indexkey.MaxLabelLen)
	}
	now := s.now()
	rec := indexkey.TokenRecord{Repo: repoID, Role: role, Created: now, Label: label}
	if ttl > 0 {
		rec.Expires = now.Add(time.Duration(ttl) * time.Second)
	}
	return rec, nil
}

// ListTokens lists the tokens of the scope, in ID order: IDs, roles, times
// and labels, never token text or hashes.
//
// Tokens are keyed by hash, not by repository, so this scans every token
// of the server; there are few.
func (s *TokenService) ListTokens(_ context.Context, req *connect.Request[holdfastv1.ListTokensRequest]) (*connect.Response[holdfastv1.ListTokensResponse], error) {
	const op = "ListTokens"
	id, err := s.scope(req.Header(), req.Msg.GetRepo())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	resp := &holdfastv1.ListTokensResponse{}
	err = s.repo.Index().Tokens(func(h indexkey.TokenHash, t indexkey.TokenRecord) error {
		if t.Repo == id {
			resp.Tokens = append(resp.Tokens, &holdfastv1.TokenInfo{
				Id:              TokenID(h),
				Role:            roleToProto(t.Role),
				ExpiresUnixNano: tokenUnixNano(t.Expires),
				CreatedUnixNano: tokenUnixNano(t.Created),
				Label:           t.Label,
			})
		}
		return nil
	})
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(resp), nil
}

// RevokeToken deletes the token with the given ID from the scope. A token
// of another scope is "not found", exactly like one that does not exist.
// The token is refused from the next request on: every request looks its
// hash up in the index.
func (s *TokenService) RevokeToken(_ context.Context, req *connect.Request[holdfastv1.RevokeTokenRequest]) (*connect.Response[holdfastv1.RevokeTokenResponse], error) {
	const op = "RevokeToken"
	id, err := s.scope(req.Header(), req.Msg.GetRepo())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	tid := req.Msg.GetId()
	if !validTokenID(tid) {
		return nil, toConnect(s.log, op, fmt.Errorf("%w: token ID must be 16 lower-case hex digits", errBadRequest))
	}
	var victims []indexkey.TokenHash
	err = s.repo.Index().Tokens(func(h indexkey.TokenHash, t indexkey.TokenRecord) error {
		// IDs are 64 bits of the hash; should two tokens of one scope
		// ever share one, revoking both is the safe direction.
		if t.Repo == id && TokenID(h) == tid {
			victims = append(victims, h)
		}
		return nil
	})
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if len(victims) == 0 {
		return nil, toConnect(s.log, op, fmt.Errorf("token %s: %w", tid, repo.ErrNotFound))
	}
	b := s.repo.Index().NewBatch()
	defer b.Close()
	for _, h := range victims {
		b.DeleteToken(h)
	}
	if err := b.Commit(true); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	s.log.Info("token revoked", "token_id", tid, "repo", req.Msg.GetRepo())
	return connect.NewResponse(&holdfastv1.RevokeTokenResponse{}), nil
}

func validTokenID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func roleFromProto(r holdfastv1.Role) (indexkey.Role, bool) {
	switch r {
	case holdfastv1.Role_ROLE_BACKUP:
		return indexkey.RoleBackup, true
	case holdfastv1.Role_ROLE_RESTORE:
		return indexkey.RoleRestore, true
	case holdfastv1.Role_ROLE_ADMIN:
		return indexkey.RoleAdmin, true
	case holdfastv1.Role_ROLE_REPLICATE:
		return indexkey.RoleReplicate, true
	}
	return 0, false
}

func roleToProto(r indexkey.Role) holdfastv1.Role {
	switch r {
	case indexkey.RoleBackup:
		return holdfastv1.Role_ROLE_BACKUP
	case indexkey.RoleRestore:
		return holdfastv1.Role_ROLE_RESTORE
	case indexkey.RoleAdmin:
		return holdfastv1.Role_ROLE_ADMIN
	case indexkey.RoleReplicate:
		return holdfastv1.Role_ROLE_REPLICATE
	}
	return holdfastv1.Role_ROLE_UNSPECIFIED
}

// tokenUnixNano is t in Unix nanoseconds, 0 for the zero time.
func tokenUnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

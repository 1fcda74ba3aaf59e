package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// TokenPrefix starts every Holdfast token, so tokens are recognisable in
// secret scanners and config files.
const TokenPrefix = "hf_"

// tokenBytes is the random part of a token: 256 bits.
const tokenBytes = 32

// Action is what a request wants to do; Allowed maps it to roles
// (CONTRACT.md, Roles).
type Action int

const (
	// ActRead: list snapshots and key files, read snapshots, references and chunks.
	ActRead Action = iota
	// ActList: list snapshots and key files only (what replicate may read).
	ActList
	// ActUpload: upload sessions, chunk uploads, commits.
	ActUpload
	// ActPutKey: store a key file (admin; replicate copies key files).
	ActPutKey
	// ActPrune: delete a snapshot (admin; replicate only on a replica, to
	// mirror the source's forgets when replication prunes, SPEC.md §12.5).
	ActPrune
	// ActAdmin: tokens and other administration of the repository.
	ActAdmin
	// ActForget: forget snapshots, lift governance locks, run GC
	// (CONTRACT.md column forget/gc/unlock).
	ActForget
	// ActLock: set, extend or shorten a lock (CONTRACT.md column lock).
	// Compliance rules bind every caller regardless (repo.SetLock).
	ActLock
	// ActServerAdmin: create and list repositories.
	ActServerAdmin
)

// Allowed reports whether role may perform act inside its own repository.
// The server admin may do everything everywhere; it is handled by the caller.
func Allowed(role indexkey.Role, act Action) bool {
	switch role {
	case indexkey.RoleAdmin:
		return act != ActServerAdmin
	case indexkey.RoleBackup:
		return act == ActRead || act == ActList || act == ActUpload
	case indexkey.RoleRestore:
		return act == ActRead || act == ActList
	case indexkey.RoleReplicate:
		// ActPrune and ActLock only on a replica: authorize checks the
		// flag. Replication mirrors the source's forgets and locks there.
		return act == ActList || act == ActUpload || act == ActPutKey || act == ActPrune || act == ActLock
	}
	return false
}

// Principal is an authenticated caller.
type Principal struct {
	Repo    uint32 // 0: server-wide (server admin)
	Role    indexkey.Role
	TokenID string
}

// ServerAdmin reports whether p is the server admin.
func (p Principal) ServerAdmin() bool { return p.Repo == 0 && p.Role == indexkey.RoleAdmin }

// NewToken returns a new random token and its hash.
func NewToken() (string, indexkey.TokenHash, error) {
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", indexkey.TokenHash{}, err
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return tok, HashToken(tok), nil
}

// HashToken is what the index stores for a token: BLAKE3-256 of its text.
func HashToken(tok string) indexkey.TokenHash { return blake3.Sum256([]byte(tok)) }

// TokenID is the public name of a token: hex of the first 8 bytes of its hash.
func TokenID(h indexkey.TokenHash) string { return hex.EncodeToString(h[:8]) }

// authenticator resolves bearer tokens to principals.
type authenticator struct {
	repo *repo.Repo
	now  func() time.Time
}

// authenticate checks the Authorization header. Tokens are never compared
// as text: the index is keyed by BLAKE3(token), so the only comparison is
// Pebble's key lookup on a hash the caller cannot steer byte by byte, and
// timing reveals nothing usable about stored tokens.
func (a *authenticator) authenticate(h http.Header) (Principal, error) {
	tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 128 {
		return Principal{}, errUnauthenticated
	}
	hash := HashToken(tok)
	rec, err := a.repo.Index().GetToken(hash)
	if errors.Is(err, index.ErrNotFound) {
		return Principal{}, errUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if !rec.Expires.IsZero() && !a.now().Before(rec.Expires) {
		return Principal{}, errUnauthenticated
	}
	return Principal{Repo: rec.Repo, Role: rec.Role, TokenID: TokenID(hash)}, nil
}

// authorize authenticates h and checks that the caller may perform act in
// repository name. It returns the principal and the repository's numeric
// ID. A token of another repository is refused before the name is looked up,
// so it learns nothing, not even whether the repository exists.
func (a *authenticator) authorize(h http.Header, name string, act Action) (Principal, uint32, error) {
	p, err := a.authenticate(h)
	if err != nil {
		return p, 0, err
	}
	if act == ActServerAdmin {
		if !p.ServerAdmin() {
			return p, 0, fmt.Errorf("%w: needs the server-admin token", errDenied)
		}
		return p, 0, nil
	}
	if !p.ServerAdmin() {
		own, err := a.repo.Index().RepoName(p.Repo)
		if err != nil || own != name {
			return p, 0, fmt.Errorf("%w: token is not for this repository", errDenied)
		}
		if !Allowed(p.Role, act) {
			return p, 0, fmt.Errorf("%w: a %s token cannot do this", errDenied, p.Role)
		}
	}
	rec, err := a.repo.Repository(name)
	if err != nil {
		return p, 0, err
	}
	if err := replicaAllows(p, act, rec.Flags&indexkey.RepoReplica != 0); err != nil {
		return p, 0, err
	}
	return p, rec.ID, nil
}

// replicaAllows enforces the replica flag (SPEC.md §12.5): a replica is
// written only by replication, so that it stays an exact copy of its
// source until it is promoted. Everyone else — the server admin included —
// may read it but not upload, commit or add key files; and a replicate
// token may delete snapshots (prune) only there, never in a repository
// that takes backups of its own.
func replicaAllows(p Principal, act Action, replica bool) error {
	writes := act == ActUpload || act == ActPutKey
	switch {
	case replica && writes && p.Role != indexkey.RoleReplicate:
		return fmt.Errorf("%w: the repository is a read-only replica; promote it to write to it", errDenied)
	case !replica && act == ActPrune && p.Role == indexkey.RoleReplicate:
		return fmt.Errorf("%w: a replicate token may delete snapshots only in a replica", errDenied)
	case !replica && act == ActLock && p.Role == indexkey.RoleReplicate:
		return fmt.Errorf("%w: a replicate token may lock snapshots only in a replica", errDenied)
	}
	return nil
}

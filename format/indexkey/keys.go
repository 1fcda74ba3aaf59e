package indexkey

import (
	"encoding/binary"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
)

// Keyspaces: the first byte of every key. Per-repository keyspaces put the
// repository's numeric ID right after it, big-endian, so that one
// repository's keys of one kind are a single contiguous range: iteration is
// cheap and a bound check is all it takes to stay inside one tenant.
const (
	SpaceMeta     byte = 'm' // 'm' → Meta
	SpaceRepo     byte = 'r' // 'r' name → RepoRecord
	SpaceRepoName byte = 'R' // 'R' repo → name
	SpaceChunk    byte = 'c' // 'c' repo chunkID → ChunkLoc
	SpacePack     byte = 'p' // 'p' repo packID → PackRecord
	SpaceSnapshot byte = 's' // 's' repo snapshotID → SnapshotRecord
	SpaceLock     byte = 'l' // 'l' repo snapshotID → LockRecord
	SpaceKeyFile  byte = 'k' // 'k' repo keyFileID → key file blob
	SpaceToken    byte = 't' // 't' tokenHash → TokenRecord
	SpaceSession  byte = 'u' // 'u' repo sessionID → SessionRecord
	SpacePin      byte = 'n' // 'n' repo sessionID chunkID → pin
	SpaceGC       byte = 'g' // 'g' repo → GCState
)

// Key sizes, fixed per keyspace (except 'r', which ends with a name).
const (
	repoIDSize    = 4
	SessionIDSize = 16
	TokenHashSize = 32

	MetaKeyLen     = 1
	RepoNameKeyLen = 1 + repoIDSize
	IDKeyLen       = 1 + repoIDSize + format.IDSize // 'c', 'p', 's', 'l', 'k'
	TokenKeyLen    = 1 + TokenHashSize
	SessionKeyLen  = 1 + repoIDSize + SessionIDSize
	PinKeyLen      = SessionKeyLen + format.IDSize
	GCKeyLen       = 1 + repoIDSize
)

// SessionID names an upload session. It is random, chosen by the server.
type SessionID [SessionIDSize]byte

// TokenHash is the BLAKE3-256 of a bearer token; the index never holds a
// token itself.
type TokenHash [TokenHashSize]byte

func repoKey(space byte, repo uint32, extra int) []byte {
	k := make([]byte, 1+repoIDSize, 1+repoIDSize+extra)
	k[0] = space
	binary.BigEndian.PutUint32(k[1:], repo)
	return k
}

// parseRepoKey checks the keyspace byte and length and returns the
// repository ID and the rest of the key. Repository 0 does not exist (it
// means "the server" in tokens), so a key that names it is corrupt.
func parseRepoKey(what string, space byte, k []byte, wantLen int) (uint32, []byte, error) {
	if len(k) != wantLen || k[0] != space {
		return 0, nil, format.Corruptf("index %s key: bad keyspace or length %d", what, len(k))
	}
	repo := binary.BigEndian.Uint32(k[1:])
	if repo == 0 {
		return 0, nil, format.Corruptf("index %s key: repository ID 0", what)
	}
	return repo, k[1+repoIDSize:], nil
}

func idKey(space byte, repo uint32, id format.ID) []byte {
	return append(repoKey(space, repo, format.IDSize), id[:]...)
}

func parseIDKey(what string, space byte, k []byte) (uint32, format.ID, error) {
	repo, rest, err := parseRepoKey(what, space, k, IDKeyLen)
	if err != nil {
		return 0, format.ID{}, err
	}
	return repo, format.ID(rest), nil
}

// MetaKey returns the key of the index's single Meta record.
func MetaKey() []byte { return []byte{SpaceMeta} }

// RepoKey returns the key that maps a repository name to its RepoRecord.
// name must satisfy ValidRepoName.
func RepoKey(name string) []byte { return append([]byte{SpaceRepo}, name...) }

// ParseRepoKey returns the repository name of a RepoKey.
func ParseRepoKey(k []byte) (string, error) {
	if len(k) < 2 || k[0] != SpaceRepo || !ValidRepoName(string(k[1:])) {
		return "", format.Corruptf("index repo key: bad keyspace or name")
	}
	return string(k[1:]), nil
}

// RepoNameKey returns the key that maps a repository ID back to its name.
func RepoNameKey(repo uint32) []byte { return repoKey(SpaceRepoName, repo, 0) }

// ParseRepoNameKey returns the repository ID of a RepoNameKey.
func ParseRepoNameKey(k []byte) (uint32, error) {
	repo, _, err := parseRepoKey("repo name", SpaceRepoName, k, RepoNameKeyLen)
	return repo, err
}

// ChunkKey returns the key of a chunk's location.
func ChunkKey(repo uint32, chunk format.ID) []byte { return idKey(SpaceChunk, repo, chunk) }

// ParseChunkKey returns the repository and chunk ID of a ChunkKey.
func ParseChunkKey(k []byte) (uint32, format.ID, error) { return parseIDKey("chunk", SpaceChunk, k) }

// PackKey returns the key of a pack's record.
func PackKey(repo uint32, pack format.ID) []byte { return idKey(SpacePack, repo, pack) }

// ParsePackKey returns the repository and pack ID of a PackKey.
func ParsePackKey(k []byte) (uint32, format.ID, error) { return parseIDKey("pack", SpacePack, k) }

// SnapshotKey returns the key of a snapshot's record.
func SnapshotKey(repo uint32, snap format.ID) []byte { return idKey(SpaceSnapshot, repo, snap) }

// ParseSnapshotKey returns the repository and snapshot ID of a SnapshotKey.
func ParseSnapshotKey(k []byte) (uint32, format.ID, error) {
	return parseIDKey("snapshot", SpaceSnapshot, k)
}

// LockKey returns the key of a snapshot's lock.
func LockKey(repo uint32, snap format.ID) []byte { return idKey(SpaceLock, repo, snap) }

// ParseLockKey returns the repository and snapshot ID of a LockKey.
func ParseLockKey(k []byte) (uint32, format.ID, error) { return parseIDKey("lock", SpaceLock, k) }

// KeyFileKey returns the key of one of a repository's key file blobs.
func KeyFileKey(repo uint32, keyFile format.ID) []byte { return idKey(SpaceKeyFile, repo, keyFile) }

// ParseKeyFileKey returns the repository and key file ID of a KeyFileKey.
func ParseKeyFileKey(k []byte) (uint32, format.ID, error) {
	return parseIDKey("key file", SpaceKeyFile, k)
}

// TokenKey returns the key of a token's record.
func TokenKey(h TokenHash) []byte { return append([]byte{SpaceToken}, h[:]...) }

// ParseTokenKey returns the token hash of a TokenKey.
func ParseTokenKey(k []byte) (TokenHash, error) {
	if len(k) != TokenKeyLen || k[0] != SpaceToken {
		return TokenHash{}, format.Corruptf("index token key: bad keyspace or length %d", len(k))
	}
	return TokenHash(k[1:]), nil
}

// SessionKey returns the key of an upload session.
func SessionKey(repo uint32, s SessionID) []byte {
	return append(repoKey(SpaceSession, repo, SessionIDSize), s[:]...)
}

// ParseSessionKey returns the repository and session ID of a SessionKey.
func ParseSessionKey(k []byte) (uint32, SessionID, error) {
	repo, rest, err := parseRepoKey("session", SpaceSession, k, SessionKeyLen)
	if err != nil {
		return 0, SessionID{}, err
	}
	return repo, SessionID(rest), nil
}

// PinKey returns the key that pins a chunk for an upload session.
func PinKey(repo uint32, s SessionID, chunk format.ID) []byte {
	k := append(repoKey(SpacePin, repo, SessionIDSize+format.IDSize), s[:]...)
	return append(k, chunk[:]...)
}

// ParsePinKey returns the repository, session and chunk of a PinKey.
func ParsePinKey(k []byte) (uint32, SessionID, format.ID, error) {
	repo, rest, err := parseRepoKey("pin", SpacePin, k, PinKeyLen)
	if err != nil {
		return 0, SessionID{}, format.ID{}, err
	}
	return repo, SessionID(rest[:SessionIDSize]), format.ID(rest[SessionIDSize:]), nil
}

// GCKey returns the key of a repository's GC state.
func GCKey(repo uint32) []byte { return repoKey(SpaceGC, repo, 0) }

// ParseGCKey returns the repository of a GCKey.
func ParseGCKey(k []byte) (uint32, error) {
	repo, _, err := parseRepoKey("gc", SpaceGC, k, GCKeyLen)
	return repo, err
}

// SpacePrefix returns the bounds [lower, upper) of a whole keyspace, for a
// Pebble iterator's LowerBound and UpperBound.
func SpacePrefix(space byte) (lower, upper []byte) {
	return []byte{space}, []byte{space + 1}
}

// RepoPrefix returns the bounds [lower, upper) of one repository's keys in a
// per-repository keyspace.
func RepoPrefix(space byte, repo uint32) (lower, upper []byte) {
	lower = repoKey(space, repo, 0)
	return lower, UpperBound(lower)
}

// PinPrefix returns the bounds [lower, upper) of the pins of one session.
func PinPrefix(repo uint32, s SessionID) (lower, upper []byte) {
	lower = append(repoKey(SpacePin, repo, SessionIDSize), s[:]...)
	return lower, UpperBound(lower)
}

// UpperBound returns the smallest key greater than every key that starts
// with prefix, or nil (no bound) if prefix is all 0xff bytes.
func UpperBound(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			ub := make([]byte, i+1)
			copy(ub, prefix)
			ub[i]++
			return ub
		}
	}
	return nil
}

// Describe returns a readable form of any index key, for logs and debugging
// tools; it never fails.
func Describe(k []byte) string {
	if len(k) == 0 {
		return "<empty key>"
	}
	switch k[0] {
	case SpaceMeta:
		if len(k) == MetaKeyLen {
			return "meta"
		}
	case SpaceRepo:
		if name, err := ParseRepoKey(k); err == nil {
			return "repo/" + name
		}
	case SpaceRepoName:
		if repo, err := ParseRepoNameKey(k); err == nil {
			return fmt.Sprintf("repo-name/%d", repo)
		}
	case SpaceChunk, SpacePack, SpaceSnapshot, SpaceLock, SpaceKeyFile:
		if repo, id, err := parseIDKey("", k[0], k); err == nil {
			return fmt.Sprintf("%c/%d/%s", k[0], repo, id)
		}
	case SpaceToken:
		if h, err := ParseTokenKey(k); err == nil {
			return fmt.Sprintf("token/%x", h[:4])
		}
	case SpaceSession:
		if repo, s, err := ParseSessionKey(k); err == nil {
			return fmt.Sprintf("session/%d/%x", repo, s)
		}
	case SpacePin:
		if repo, s, c, err := ParsePinKey(k); err == nil {
			return fmt.Sprintf("pin/%d/%x/%s", repo, s, c)
		}
	case SpaceGC:
		if repo, err := ParseGCKey(k); err == nil {
			return fmt.Sprintf("gc/%d", repo)
		}
	}
	return fmt.Sprintf("<bad key %x>", k)
}

package indexkey

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// Repository flags.
const (
	// RepoReplica marks a read-only replica: only a replicate token may
	// commit to it, until it is promoted (the flag cleared).
	RepoReplica uint64 = 1 << 0

	repoFlagsKnown = RepoReplica
)

// RepoRecord is the value of a RepoKey.
type RepoRecord struct {
	ID      uint32 // numeric ID used in every per-repository key; never 0, never reused
	Created time.Time
	Flags   uint64 // RepoReplica
}

func (x RepoRecord) validate() error {
	switch {
	case x.ID == 0:
		return errors.New("repository ID 0")
	case x.Flags&^repoFlagsKnown != 0:
		return fmt.Errorf("unknown flags %#x", x.Flags&^repoFlagsKnown)
	case !validTime(x.Created):
		return errors.New("time out of range")
	}
	return nil
}

// EncodeRepoRecord encodes x.
func EncodeRepoRecord(x RepoRecord) ([]byte, error) {
	if err := x.validate(); err != nil {
		return nil, fmt.Errorf("index repo record: %w", err)
	}
	b := wire.AppendUvarint(newValue(16), uint64(x.ID))
	b = appendTime(b, x.Created)
	return wire.AppendUvarint(b, x.Flags), nil
}

// DecodeRepoRecord decodes the value of a RepoKey.
func DecodeRepoRecord(v []byte) (RepoRecord, error) {
	const object = "index repo record"
	var x RepoRecord
	r, err := openValue(object, v)
	if err != nil {
		return x, err
	}
	x.ID = readU32(r, "repository ID")
	x.Created = readTime(r, "created")
	x.Flags = r.Uvarint("flags")
	if err := decodeWith(object, r, x.validate); err != nil {
		return RepoRecord{}, err
	}
	return x, nil
}

// Role is what a token may do (CONTRACT.md, Roles).
type Role byte

// Roles. A token with Repo 0 acts on the server rather than one repository;
// RoleAdmin there is the server admin.
const (
	RoleBackup    Role = 1 // upload, commit, read
	RoleRestore   Role = 2 // read
	RoleAdmin     Role = 3 // everything inside its repository (or the server)
	RoleReplicate Role = 4 // sync target: commit with given IDs, list
)

// String returns the role's name as the CLI spells it.
func (r Role) String() string {
	switch r {
	case RoleBackup:
		return "backup"
	case RoleRestore:
		return "restore"
	case RoleAdmin:
		return "admin"
	case RoleReplicate:
		return "replicate"
	}
	return fmt.Sprintf("Role(%d)", byte(r))
}

// TokenRecord is the value of a TokenKey.
type TokenRecord struct {
	Repo    uint32 // 0: the token acts on the server
	Role    Role
	Expires time.Time // zero: never
	Created time.Time
	Label   string // free text for admins, valid UTF-8, at most MaxLabelLen bytes
}

func (x TokenRecord) validate() error {
	switch {
	case x.Role < RoleBackup || x.Role > RoleReplicate:
		return fmt.Errorf("unknown role %d", x.Role)
	case len(x.Label) > MaxLabelLen || !utf8.ValidString(x.Label):
		return errors.New("label too long or not UTF-8")
	case !validTime(x.Expires) || !validTime(x.Created):
		return errors.New("time out of range")
	}
	return nil
}

// EncodeTokenRecord encodes x.
func EncodeTokenRecord(x TokenRecord) ([]byte, error) {
	if err := x.validate(); err != nil {
		return nil, fmt.Errorf("index token record: %w", err)
	}
	b := wire.AppendUvarint(newValue(32+len(x.Label)), uint64(x.Repo))
	b = append(b, byte(x.Role))
	b = appendTime(b, x.Expires)
	b = appendTime(b, x.Created)
	return wire.AppendString(b, x.Label), nil
}

// DecodeTokenRecord decodes the value of a TokenKey.
func DecodeTokenRecord(v []byte) (TokenRecord, error) {
	const object = "index token record"
	var x TokenRecord
	r, err := openValue(object, v)
	if err != nil {
		return x, err
	}
	x.Repo = readU32(r, "repository ID")
	x.Role = Role(r.Byte("role"))
	x.Expires = readTime(r, "expires")
	x.Created = readTime(r, "created")
	x.Label = r.String("label", MaxLabelLen)
	if err := decodeWith(object, r, x.validate); err != nil {
		return TokenRecord{}, err
	}
	return x, nil
}

// SessionRecord is the value of a SessionKey: an open upload session. Its
// pins (PinKey) keep chunks alive against GC until the lease expires.
type SessionRecord struct {
	Created time.Time
	Lease   time.Time // the session and its pins may be dropped after this
}

func (x SessionRecord) validate() error {
	if x.Lease.IsZero() || !validTime(x.Lease) || !validTime(x.Created) {
		return errors.New("time missing or out of range")
	}
	return nil
}

// EncodeSessionRecord encodes x.
func EncodeSessionRecord(x SessionRecord) ([]byte, error) {
	if err := x.validate(); err != nil {
		return nil, fmt.Errorf("index session record: %w", err)
	}
	return appendTime(appendTime(newValue(20), x.Created), x.Lease), nil
}

// DecodeSessionRecord decodes the value of a SessionKey.
func DecodeSessionRecord(v []byte) (SessionRecord, error) {
	const object = "index session record"
	var x SessionRecord
	r, err := openValue(object, v)
	if err != nil {
		return x, err
	}
	x.Created = readTime(r, "created")
	x.Lease = readTime(r, "lease")
	if err := decodeWith(object, r, x.validate); err != nil {
		return SessionRecord{}, err
	}
	return x, nil
}

// GCPhase is where a repository's garbage collection stands.
type GCPhase byte

// GC phases. A run that finds a phase other than GCIdle resumes or restarts
// the interrupted run.
const (
	GCIdle     GCPhase = 0
	GCMarking  GCPhase = 1
	GCSweeping GCPhase = 2
)

// GCState is the value of a GCKey.
type GCState struct {
	Phase      GCPhase
	Epoch      uint64    // number of the current (or last) run; increases by one per run
	Started    time.Time // start of the current or last run: chunks added later are never swept by it
	Finished   time.Time // end of the last completed run; zero if none
	FreedBytes uint64    // pack bytes the last completed run freed
	FreedPacks uint64    // packs the last completed run deleted
}

func (x GCState) validate() error {
	switch {
	case x.Phase > GCSweeping:
		return fmt.Errorf("unknown phase %d", x.Phase)
	case !validTime(x.Started) || !validTime(x.Finished):
		return errors.New("time out of range")
	}
	return nil
}

// EncodeGCState encodes x.
func EncodeGCState(x GCState) ([]byte, error) {
	if err := x.validate(); err != nil {
		return nil, fmt.Errorf("index gc state: %w", err)
	}
	b := append(newValue(40), byte(x.Phase))
	b = wire.AppendUvarint(b, x.Epoch)
	b = appendTime(b, x.Started)
	b = appendTime(b, x.Finished)
	b = wire.AppendUvarint(b, x.FreedBytes)
	return wire.AppendUvarint(b, x.FreedPacks), nil
}

// DecodeGCState decodes the value of a GCKey.
func DecodeGCState(v []byte) (GCState, error) {
	const object = "index gc state"
	var x GCState
	r, err := openValue(object, v)
	if err != nil {
		return x, err
	}
	x.Phase = GCPhase(r.Byte("phase"))
	x.Epoch = r.Uvarint("epoch")
	x.Started = readTime(r, "started")
	x.Finished = readTime(r, "finished")
	x.FreedBytes = r.Uvarint("freed bytes")
	x.FreedPacks = r.Uvarint("freed packs")
	if err := decodeWith(object, r, x.validate); err != nil {
		return GCState{}, err
	}
	return x, nil
}

// Store is one entry of the store layout: a place shards are written to.
type Store struct {
	ID  uint16 // referenced by PackRecord.Stores; never reused
	URL string // a directory path or s3://BUCKET/PREFIX?endpoint=...; no credentials
}

// Meta is the value of MetaKey: facts about the whole index.
type Meta struct {
	IndexVersion uint32  // layout version of the index; a newer build migrates or refuses
	K, M         int     // shard layout for new packs
	Stores       []Store // every store, in the order given at first start
}

func (x Meta) validate() error {
	switch {
	case x.IndexVersion == 0:
		return errors.New("index version 0")
	case x.K < 1 || x.M < 0 || x.K+x.M > maxShards:
		return fmt.Errorf("shard layout %d+%d out of range", x.K, x.M)
	case len(x.Stores) == 0:
		return errors.New("no stores")
	}
	seen := make(map[uint16]bool, len(x.Stores))
	for _, s := range x.Stores {
		switch {
		case seen[s.ID]:
			return fmt.Errorf("store ID %d appears twice", s.ID)
		case s.URL == "" || len(s.URL) > MaxStoreURLLen || !utf8.ValidString(s.URL):
			return fmt.Errorf("store %d: bad URL", s.ID)
		}
		seen[s.ID] = true
	}
	return nil
}

// EncodeMeta encodes x.
func EncodeMeta(x Meta) ([]byte, error) {
	if err := x.validate(); err != nil {
		return nil, fmt.Errorf("index meta: %w", err)
	}
	b := wire.AppendUvarint(newValue(64), uint64(x.IndexVersion))
	b = append(b, byte(x.K), byte(x.M))
	b = wire.AppendUvarint(b, uint64(len(x.Stores)))
	for _, s := range x.Stores {
		b = wire.AppendUvarint(b, uint64(s.ID))
		b = wire.AppendString(b, s.URL)
	}
	return b, nil
}

// DecodeMeta decodes the value of MetaKey.
func DecodeMeta(v []byte) (Meta, error) {
	const object = "index meta"
	var x Meta
	r, err := openValue(object, v)
	if err != nil {
		return x, err
	}
	x.IndexVersion = readU32(r, "index version")
	x.K = int(r.Byte("k"))
	x.M = int(r.Byte("m"))
	n := r.Count("store", 2) // an ID and a URL length, at least one byte each
	x.Stores = make([]Store, n)
	for i := range x.Stores {
		x.Stores[i].ID = uint16(r.UvarintMax("store ID", MaxStores-1))
		x.Stores[i].URL = r.String("store URL", MaxStoreURLLen)
	}
	if err := decodeWith(object, r, x.validate); err != nil {
		return Meta{}, err
	}
	return x, nil
}

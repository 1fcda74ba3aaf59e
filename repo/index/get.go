package index

import (
	"bytes"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// Every getter returns ErrNotFound (wrapped) for an absent key and a
// format.ErrCorrupt-class error naming the key for a value that does not
// decode. Results never alias Pebble's memory.

// GetChunk returns where chunk id of repo is stored.
func (x *Index) GetChunk(repo uint32, id format.ID) (indexkey.ChunkLoc, error) {
	var loc indexkey.ChunkLoc
	err := x.get(indexkey.ChunkKey(repo, id), func(v []byte) (err error) {
		loc, err = indexkey.DecodeChunkLoc(v)
		return err
	})
	return loc, err
}

// GetPack returns a pack's record.
func (x *Index) GetPack(repo uint32, id format.ID) (indexkey.PackRecord, error) {
	var p indexkey.PackRecord
	err := x.get(indexkey.PackKey(repo, id), func(v []byte) (err error) {
		p, err = indexkey.DecodePackRecord(v)
		return err
	})
	return p, err
}

// GetSnapshot returns a snapshot's record.
func (x *Index) GetSnapshot(repo uint32, id format.ID) (indexkey.SnapshotRecord, error) {
	var s indexkey.SnapshotRecord
	err := x.get(indexkey.SnapshotKey(repo, id), func(v []byte) (err error) {
		s, err = decodeSnapshot(v)
		return err
	})
	return s, err
}

// decodeSnapshot decodes a SnapshotRecord and copies its inline bytes out
// of v.
func decodeSnapshot(v []byte) (indexkey.SnapshotRecord, error) {
	s, err := indexkey.DecodeSnapshotRecord(v)
	s.Header.Inline = bytes.Clone(s.Header.Inline)
	s.Refs.Inline = bytes.Clone(s.Refs.Inline)
	return s, err
}

// GetLock returns the lock of snapshot snap.
func (x *Index) GetLock(repo uint32, snap format.ID) (indexkey.LockRecord, error) {
	var l indexkey.LockRecord
	err := x.get(indexkey.LockKey(repo, snap), func(v []byte) (err error) {
		l, err = indexkey.DecodeLockRecord(v)
		return err
	})
	return l, err
}

// GetKeyFile returns a key file blob.
func (x *Index) GetKeyFile(repo uint32, id format.ID) ([]byte, error) {
	var blob []byte
	err := x.get(indexkey.KeyFileKey(repo, id), func(v []byte) error {
		b, err := indexkey.DecodeKeyFile(v)
		blob = bytes.Clone(b)
		return err
	})
	return blob, err
}

// GetToken returns the record of the token whose hash is h.
func (x *Index) GetToken(h indexkey.TokenHash) (indexkey.TokenRecord, error) {
	var t indexkey.TokenRecord
	err := x.get(indexkey.TokenKey(h), func(v []byte) (err error) {
		t, err = indexkey.DecodeTokenRecord(v)
		return err
	})
	return t, err
}

// GetSession returns an upload session's record.
func (x *Index) GetSession(repo uint32, s indexkey.SessionID) (indexkey.SessionRecord, error) {
	var r indexkey.SessionRecord
	err := x.get(indexkey.SessionKey(repo, s), func(v []byte) (err error) {
		r, err = indexkey.DecodeSessionRecord(v)
		return err
	})
	return r, err
}

// IsPinned reports whether session s pins chunk id.
func (x *Index) IsPinned(repo uint32, s indexkey.SessionID, id format.ID) (bool, error) {
	return x.exists(indexkey.PinKey(repo, s, id), indexkey.DecodePin)
}

// GetRepo returns the record of repository name.
func (x *Index) GetRepo(name string) (indexkey.RepoRecord, error) {
	var r indexkey.RepoRecord
	if !indexkey.ValidRepoName(name) {
		return r, errInvalidName(name)
	}
	err := x.get(indexkey.RepoKey(name), func(v []byte) (err error) {
		r, err = indexkey.DecodeRepoRecord(v)
		return err
	})
	return r, err
}

// GetGCState returns where repo's garbage collection stands.
func (x *Index) GetGCState(repo uint32) (indexkey.GCState, error) {
	var s indexkey.GCState
	err := x.get(indexkey.GCKey(repo), func(v []byte) (err error) {
		s, err = indexkey.DecodeGCState(v)
		return err
	})
	return s, err
}

// GetMeta returns the index's Meta record.
func (x *Index) GetMeta() (indexkey.Meta, error) {
	var m indexkey.Meta
	err := x.get(indexkey.MetaKey(), func(v []byte) (err error) {
		m, err = indexkey.DecodeMeta(v)
		return err
	})
	return m, err
}

package indexkey

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

func xof(label string, n int) []byte {
	h := blake3.New()
	h.WriteString(label)
	b := make([]byte, n)
	h.Digest().Read(b)
	return b
}

func xofID(label string) format.ID { return format.ID(xof(label, format.IDSize)) }

var (
	t1 = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	t2 = time.Date(2031, 12, 31, 23, 59, 59, 0, time.UTC)
)

// sample is one valid key and value of a keyspace, with the decoder that
// re-encodes a value (so tests can check decode∘encode = id on bytes).
type sample struct {
	name     string
	key      []byte
	value    []byte
	parseKey func([]byte) ([]byte, error) // re-encoded key
	reencode func([]byte) ([]byte, error) // decode then encode
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func via[T any](dec func([]byte) (T, error), enc func(T) ([]byte, error)) func([]byte) ([]byte, error) {
	return func(v []byte) ([]byte, error) {
		x, err := dec(v)
		if err != nil {
			return nil, err
		}
		return enc(x)
	}
}

func idKeyVia(parse func([]byte) (uint32, format.ID, error), mk func(uint32, format.ID) []byte) func([]byte) ([]byte, error) {
	return func(k []byte) ([]byte, error) {
		repo, id, err := parse(k)
		return mk(repo, id), err
	}
}

func samples() []sample {
	const repo = 7
	chunk, pack, snap := xofID("chunk"), xofID("pack"), xofID("snapshot")
	var sess SessionID
	copy(sess[:], xof("session", SessionIDSize))
	var tok TokenHash
	copy(tok[:], xof("token", TokenHashSize))
	var sum [16]byte
	copy(sum[:], xof("checksum", 16))
	return []sample{
		{"meta", MetaKey(), must(EncodeMeta(Meta{IndexVersion: 1, K: 4, M: 2, Stores: []Store{{0, "/srv/a"}, {1, "s3://bucket/p?endpoint=http://127.0.0.1:9000"}}})),
			func(k []byte) ([]byte, error) {
				if !bytes.Equal(k, MetaKey()) {
					return nil, format.Corruptf("meta key")
				}
				return MetaKey(), nil
			}, via(DecodeMeta, EncodeMeta)},
		{"repo", RepoKey("prod-db-1"), must(EncodeRepoRecord(RepoRecord{ID: repo, Created: t1, Flags: RepoReplica})),
			func(k []byte) ([]byte, error) { n, err := ParseRepoKey(k); return RepoKey(n), err },
			via(DecodeRepoRecord, EncodeRepoRecord)},
		{"repo name", RepoNameKey(repo), must(EncodeRepoName("prod-db-1")),
			func(k []byte) ([]byte, error) { r, err := ParseRepoNameKey(k); return RepoNameKey(r), err },
			via(DecodeRepoName, EncodeRepoName)},
		{"chunk", ChunkKey(repo, chunk), must(EncodeChunkLoc(ChunkLoc{Pack: pack, Offset: 8 + 1<<20, Length: 1 << 20, Checksum: sum})),
			idKeyVia(ParseChunkKey, ChunkKey), via(DecodeChunkLoc, EncodeChunkLoc)},
		{"pack", PackKey(repo, pack), must(EncodePackRecord(PackRecord{Length: 48 << 20, K: 4, M: 2, Stores: []uint16{0, 1, 2, 3, 4, 5}, LiveBytes: 40 << 20, LiveCount: 40, Created: t1, RetainUntil: t2})),
			idKeyVia(ParsePackKey, PackKey), via(DecodePackRecord, EncodePackRecord)},
		{"snapshot", SnapshotKey(repo, snap), must(EncodeSnapshotRecord(SnapshotRecord{Header: ObjectRef{Inline: []byte("clear header")}, Refs: ObjectRef{Name: "prod-db-1/snapshots/2d/2d16.refs", Size: 1 << 20, Hash: [32]byte(xof("refs", 32)), Stores: []uint16{0, 2}}, Committed: t1})),
			idKeyVia(ParseSnapshotKey, SnapshotKey), via(DecodeSnapshotRecord, EncodeSnapshotRecord)},
		{"lock", LockKey(repo, snap), must(EncodeLockRecord(LockRecord{Mode: LockCompliance, Until: t2, Set: t1})),
			idKeyVia(ParseLockKey, LockKey), via(DecodeLockRecord, EncodeLockRecord)},
		{"key file", KeyFileKey(repo, xofID("key file")), must(EncodeKeyFile(xof("key file blob", 100))),
			idKeyVia(ParseKeyFileKey, KeyFileKey), via(DecodeKeyFile, EncodeKeyFile)},
		{"token", TokenKey(tok), must(EncodeTokenRecord(TokenRecord{Repo: repo, Role: RoleBackup, Expires: t2, Created: t1, Label: "ci runner"})),
			func(k []byte) ([]byte, error) { h, err := ParseTokenKey(k); return TokenKey(h), err },
			via(DecodeTokenRecord, EncodeTokenRecord)},
		{"session", SessionKey(repo, sess), must(EncodeSessionRecord(SessionRecord{Created: t1, Lease: t1.Add(time.Hour)})),
			func(k []byte) ([]byte, error) { r, s, err := ParseSessionKey(k); return SessionKey(r, s), err },
			via(DecodeSessionRecord, EncodeSessionRecord)},
		{"pin", PinKey(repo, sess, chunk), EncodePin(),
			func(k []byte) ([]byte, error) { r, s, c, err := ParsePinKey(k); return PinKey(r, s, c), err },
			func(v []byte) ([]byte, error) { return EncodePin(), DecodePin(v) }},
		{"present pin", PinKey(repo, sess, chunk), EncodePresentPin(),
			func(k []byte) ([]byte, error) { r, s, c, err := ParsePinKey(k); return PinKey(r, s, c), err },
			reencodePin},
		{"gc", GCKey(repo), must(EncodeGCState(GCState{Phase: GCIdle, Epoch: 12, Started: t1, Finished: t1.Add(time.Minute), FreedBytes: 1 << 30, FreedPacks: 20})),
			func(k []byte) ([]byte, error) { r, err := ParseGCKey(k); return GCKey(r), err },
			via(DecodeGCState, EncodeGCState)},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		k, err := s.parseKey(s.key)
		if err != nil || !bytes.Equal(k, s.key) {
			t.Errorf("%s key: %v, %x != %x", s.name, err, k, s.key)
		}
		v, err := s.reencode(s.value)
		if err != nil || !bytes.Equal(v, s.value) {
			t.Errorf("%s value: %v, %x != %x", s.name, err, v, s.value)
		}
		if strings.HasPrefix(Describe(s.key), "<") {
			t.Errorf("%s: Describe = %s", s.name, Describe(s.key))
		}
	}
}

func TestTruncatedAndFlipped(t *testing.T) {
	for _, s := range samples() {
		for n := 0; n < len(s.value); n++ {
			if s.name == "present pin" && n == 1 {
				continue // the version byte alone is a plain pin
			}
			if _, err := s.reencode(s.value[:n]); !format.IsCorrupt(err) {
				t.Fatalf("%s value prefix %d: %v", s.name, n, err)
			}
		}
		if _, err := s.reencode(append(bytes.Clone(s.value), 0)); !format.IsCorrupt(err) {
			t.Fatalf("%s value with trailing byte: %v", s.name, err)
		}
		for n := 0; n < len(s.key); n++ {
			if _, err := s.parseKey(s.key[:n]); !format.IsCorrupt(err) && s.name != "repo" {
				t.Fatalf("%s key prefix %d: %v", s.name, n, err)
			}
		}
		if _, err := s.parseKey(append(bytes.Clone(s.key), 0)); !format.IsCorrupt(err) {
			t.Fatalf("%s key with trailing byte: %v", s.name, err)
		}
		// Index values carry no checksum (Pebble checksums its blocks), so
		// a flipped bit may give another valid value; it must then
		// re-encode to exactly the flipped bytes.
		for i := range len(s.value) * 8 {
			v := bytes.Clone(s.value)
			v[i/8] ^= 1 << (i % 8)
			got, err := s.reencode(v)
			if err != nil && !format.IsCorrupt(err) {
				t.Fatalf("%s value bit %d: %v is not a corruption error", s.name, i, err)
			}
			if err == nil && !bytes.Equal(got, v) {
				t.Fatalf("%s value bit %d: decoded but re-encoded differently", s.name, i)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	for _, s := range samples() {
		v := bytes.Clone(s.value)
		v[0] = 2
		if _, err := s.reencode(v); !errors.Is(err, format.ErrVersion) {
			t.Errorf("%s: %v, want a version error", s.name, err)
		}
	}
}

func TestKeyRejects(t *testing.T) {
	id := xofID("x")
	bad := map[string]error{}
	_, _, bad["chunk key in pack space"] = ParsePackKey(ChunkKey(1, id))
	_, _, bad["repo 0"] = ParseChunkKey(ChunkKey(0, id))
	_, bad["gc repo 0"] = ParseGCKey(GCKey(0))
	_, bad["upper-case name"] = ParseRepoKey(RepoKey("Prod"))
	_, bad["empty name"] = ParseRepoKey(RepoKey(""))
	_, bad["token in chunk space"] = ParseTokenKey(append([]byte{SpaceChunk}, id[:]...))
	_, _, _, bad["pin without chunk"] = ParsePinKey(SessionKey(1, SessionID{}))
	for name, err := range bad {
		if !format.IsCorrupt(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPrefixes(t *testing.T) {
	id0, idF := format.ID{}, format.ID{}
	for i := range idF {
		idF[i] = 0xff
	}
	for _, repo := range []uint32{1, 2, 0xff, 0x1ff, math.MaxUint32 - 1, math.MaxUint32} {
		lo, hi := RepoPrefix(SpaceChunk, repo)
		for _, k := range [][]byte{ChunkKey(repo, id0), ChunkKey(repo, idF)} {
			if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
				t.Fatalf("repo %d: key %x outside [%x, %x)", repo, k, lo, hi)
			}
		}
		if repo > 1 {
			if k := ChunkKey(repo-1, idF); bytes.Compare(k, lo) >= 0 {
				t.Fatalf("repo %d: previous repo's key %x inside range", repo, k)
			}
		}
		if repo < math.MaxUint32 {
			if k := ChunkKey(repo+1, id0); bytes.Compare(k, hi) < 0 {
				t.Fatalf("repo %d: next repo's key %x inside range", repo, k)
			}
		}
		if k := PackKey(repo, id0); bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0 {
			t.Fatalf("repo %d: pack key inside chunk range", repo)
		}
	}
	var s SessionID
	s[15] = 0xff
	lo, hi := PinPrefix(3, s)
	for _, k := range [][]byte{PinKey(3, s, id0), PinKey(3, s, idF)} {
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Fatal("pin key outside its session's range")
		}
	}
	if UpperBound([]byte{0xff, 0xff}) != nil || !bytes.Equal(UpperBound([]byte{1, 0xff}), []byte{2}) {
		t.Fatal("UpperBound")
	}
	lo, hi = SpacePrefix(SpaceRepo)
	if k := RepoKey("zzz"); bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
		t.Fatal("SpacePrefix")
	}
}

func TestValidRepoName(t *testing.T) {
	good := []string{"a", "0", "prod-db-1", "a-", strings.Repeat("a", 63)}
	bad := []string{"", "-a", "A", "a_b", "a.b", "a/b", "..", strings.Repeat("a", 64), "é"}
	for _, s := range good {
		if !ValidRepoName(s) {
			t.Errorf("%q rejected", s)
		}
	}
	for _, s := range bad {
		if ValidRepoName(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	_, e1 := EncodeChunkLoc(ChunkLoc{Length: 0})
	_, e2 := EncodeChunkLoc(ChunkLoc{Offset: format.MaxPackSize, Length: 1})
	_, e3 := EncodePackRecord(PackRecord{Length: 100, K: 4, M: 2, Stores: []uint16{1}})
	_, e4 := EncodePackRecord(PackRecord{Length: 100, K: 30, M: 3, Stores: make([]uint16, 33)})
	_, e5 := EncodePackRecord(PackRecord{Length: 100, K: 1, Stores: []uint16{0}, LiveBytes: 101})
	_, e6 := EncodeLockRecord(LockRecord{Mode: 3, Until: t1})
	_, e7 := EncodeLockRecord(LockRecord{Mode: LockGovernance})
	_, e8 := EncodeTokenRecord(TokenRecord{Role: 9})
	_, e9 := EncodeTokenRecord(TokenRecord{Role: RoleAdmin, Label: "\xff"})
	_, e10 := EncodeRepoRecord(RepoRecord{ID: 0})
	_, e11 := EncodeRepoRecord(RepoRecord{ID: 1, Flags: 2})
	_, e12 := EncodeMeta(Meta{IndexVersion: 1, K: 1, Stores: []Store{{1, "a"}, {1, "b"}}})
	_, e13 := EncodeSnapshotRecord(SnapshotRecord{Committed: t1, Refs: ObjectRef{Inline: []byte{1}, Name: "x", Stores: []uint16{1}}})
	_, e20 := EncodeSnapshotRecord(SnapshotRecord{Committed: t1, Refs: ObjectRef{Name: "x", Stores: []uint16{2, 1}}})
	_, e21 := EncodeSnapshotRecord(SnapshotRecord{Committed: t1, Refs: ObjectRef{Name: "x"}})
	_, e22 := EncodeSnapshotRecord(SnapshotRecord{Committed: t1, Refs: ObjectRef{Size: 1}})
	_, e14 := EncodeSnapshotRecord(SnapshotRecord{})
	_, e15 := EncodeSessionRecord(SessionRecord{Created: t1})
	_, e16 := EncodeGCState(GCState{Phase: 7})
	_, e17 := EncodeRepoName("Bad")
	_, e18 := EncodeKeyFile(nil)
	_, e19 := EncodeRepoRecord(RepoRecord{ID: 1, Created: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
	for i, err := range []error{e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15, e16, e17, e18, e19, e20, e21, e22} {
		if err == nil {
			t.Errorf("case %d: invalid value encoded", i+1)
		}
	}
}

func TestTimes(t *testing.T) {
	// Local times and monotonic readings decode as the same instant in UTC.
	now := time.Now()
	b, err := EncodeSessionRecord(SessionRecord{Created: now, Lease: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSessionRecord(b)
	if err != nil || !s.Created.Equal(now) || s.Created.Location() != time.UTC {
		t.Fatalf("time round trip: %v %v", s.Created, err)
	}
	// Zero stays zero.
	b, _ = EncodeGCState(GCState{})
	g, err := DecodeGCState(b)
	if err != nil || !g.Started.IsZero() || !g.Finished.IsZero() {
		t.Fatalf("zero time: %v %v", g, err)
	}
}

func TestChunkLocSize(t *testing.T) {
	// The 'c' keyspace is the big one; keep an eye on its value size.
	b := must(EncodeChunkLoc(ChunkLoc{Offset: 60 << 20, Length: 8 << 20}))
	if len(b) > 58 {
		t.Fatalf("chunk location is %d bytes", len(b))
	}
}

// reencodePin decodes a pin value and encodes what it decoded.
func reencodePin(v []byte) ([]byte, error) {
	present, err := DecodePinPresent(v)
	if present {
		return EncodePresentPin(), err
	}
	return EncodePin(), err
}

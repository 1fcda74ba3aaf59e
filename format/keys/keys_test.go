package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
)

// xof returns n deterministic bytes: BLAKE3 XOF of seed.
func xof(seed string, n int) []byte {
	h := blake3.New()
	h.WriteString(seed)
	b := make([]byte, n)
	if _, err := h.Digest().Read(b); err != nil {
		panic(err)
	}
	return b
}

func testMaster(t testing.TB) *Master {
	t.Helper()
	m, err := NewMaster(bytes.NewReader(xof("keys test master", 48)), chunker.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var created = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestNewMaster(t *testing.T) {
	m := testMaster(t)
	r := xof("keys test master", 48)
	if !bytes.Equal(m.Key[:], r[:32]) || !bytes.Equal(m.RepoID[:], r[32:]) || m.Chunker != chunker.DefaultParams {
		t.Fatalf("NewMaster did not read key then repo ID: %v", m)
	}
	if _, err := NewMaster(bytes.NewReader(make([]byte, 47)), chunker.DefaultParams); err == nil {
		t.Fatal("short random source accepted")
	}
	if _, err := NewMaster(nil, chunker.Params{Min: 1, Avg: 3, Max: 2}); err == nil {
		t.Fatal("invalid chunker params accepted")
	}
	a, _ := NewMaster(nil, chunker.DefaultParams)
	b, _ := NewMaster(nil, chunker.DefaultParams)
	if a.Key == b.Key || a.RepoID == b.RepoID {
		t.Fatal("crypto/rand masters collide")
	}
	if s := m.String() + m.GoString() + m.Derive().String(); strings.Contains(s, "000102") || !strings.Contains(s, "redacted") {
		t.Fatalf("String leaks or does not redact: %s", s)
	}
}

func TestDeriveDistinct(t *testing.T) {
	k := testMaster(t).Derive()
	all := [][32]byte{k.ID, k.AEAD, k.MAC, k.Gear}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[i] == all[j] {
				t.Fatalf("derived keys %d and %d are equal", i, j)
			}
		}
	}
	if k != testMaster(t).Derive() {
		t.Fatal("Derive is not deterministic")
	}
}

func TestWrapUnwrap(t *testing.T) {
	m := testMaster(t)
	for _, label := range []string{"", "alice@laptop", "ünïcødé 🔑", strings.Repeat("x", MaxLabelLen)} {
		kf, err := Wrap(m, []byte("pw"), TestKDF, label, created.Add(123*time.Millisecond), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, info, err := Unwrap(kf, []byte("pw"))
		if err != nil {
			t.Fatalf("label %q: %v", label, err)
		}
		if *got != *m {
			t.Fatalf("label %q: master differs", label)
		}
		want := KeyFileInfo{KDF: TestKDF, Created: created, Label: label}
		if info != want {
			t.Fatalf("info = %+v, want %+v", info, want)
		}
		if ins, err := Inspect(kf); err != nil || ins != want {
			t.Fatalf("Inspect = %+v, %v", ins, err)
		}
		if _, _, err := Unwrap(kf, []byte("pW")); !errors.Is(err, ErrWrongPassword) || format.IsCorrupt(err) {
			t.Fatalf("wrong password: got %v", err)
		}
	}
}

func TestWrapRandomSaltAndNonce(t *testing.T) {
	m := testMaster(t)
	a, _ := Wrap(m, []byte("pw"), TestKDF, "", created, nil)
	b, _ := Wrap(m, []byte("pw"), TestKDF, "", created, nil)
	if bytes.Equal(a, b) {
		t.Fatal("two key files with crypto/rand are identical")
	}
}

func TestWrapRejects(t *testing.T) {
	m := testMaster(t)
	bad := *m
	bad.Chunker.Avg = 1000
	cases := []struct {
		name    string
		m       *Master
		pw      string
		kdf     KDFParams
		label   string
		created time.Time
	}{
		{"empty password", m, "", TestKDF, "", created},
		{"long label", m, "pw", TestKDF, strings.Repeat("x", MaxLabelLen+1), created},
		{"label not UTF-8", m, "pw", TestKDF, "\xff", created},
		{"before 1970", m, "pw", TestKDF, "", time.Unix(-1, 0)},
		{"KDF out of bounds", m, "pw", KDFParams{Time: 0, MemoryKiB: 64, Threads: 1}, "", created},
		{"chunker params", &bad, "pw", TestKDF, "", created},
	}
	for _, c := range cases {
		if _, err := Wrap(c.m, []byte(c.pw), c.kdf, c.label, c.created, nil); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if _, err := Wrap(m, []byte("pw"), TestKDF, "", created, bytes.NewReader(make([]byte, 39))); err == nil {
		t.Error("short random source accepted")
	}
}

func TestKDFValidate(t *testing.T) {
	cases := []struct {
		p  KDFParams
		ok bool
	}{
		{DefaultKDF, true},
		{TestKDF, true},
		{KDFParams{Time: MaxKDFTime, MemoryKiB: MaxKDFMemoryKiB, Threads: MaxKDFThreads}, true},
		{KDFParams{Time: 0, MemoryKiB: 64, Threads: 1}, false},
		{KDFParams{Time: MaxKDFTime + 1, MemoryKiB: 64, Threads: 1}, false},
		{KDFParams{Time: 1, MemoryKiB: 64, Threads: 0}, false},
		{KDFParams{Time: 1, MemoryKiB: 1024, Threads: MaxKDFThreads + 1}, false},
		{KDFParams{Time: 1, MemoryKiB: MinKDFMemoryKiB - 1, Threads: 1}, false},
		{KDFParams{Time: 1, MemoryKiB: 64, Threads: 9}, false}, // < 8 KiB per lane
		{KDFParams{Time: 1, MemoryKiB: 72, Threads: 9}, true},
		{KDFParams{Time: 1, MemoryKiB: MaxKDFMemoryKiB + 1, Threads: 1}, false},
		{KDFParams{Time: 1, MemoryKiB: 1<<32 - 1, Threads: 1}, false},
	}
	for _, c := range cases {
		if err := c.p.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", c.p, err, c.ok)
		}
	}
}

// TestHostileKDF checks that out-of-bounds cost parameters are refused
// before Argon2 runs: a 4 GiB, 2^32-pass request must fail instantly.
func TestHostileKDF(t *testing.T) {
	kf, err := Wrap(testMaster(t), []byte("pw"), TestKDF, "", created, nil)
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(b []byte){
		"memory 4 GiB":  func(b []byte) { copy(b[10:14], []byte{0xff, 0xff, 0xff, 0xff}) },
		"memory 1 GiB+": func(b []byte) { copy(b[10:14], []byte{0, 0x10, 0, 1}) },
		"time 2^32-1":   func(b []byte) { copy(b[6:10], []byte{0xff, 0xff, 0xff, 0xff}) },
		"time 65":       func(b []byte) { copy(b[6:10], []byte{0, 0, 0, 65}) },
		"time 0":        func(b []byte) { copy(b[6:10], []byte{0, 0, 0, 0}) },
		"threads 0":     func(b []byte) { b[14] = 0 },
		"threads 255":   func(b []byte) { b[14] = 255 },
		"KDF 2":         func(b []byte) { b[5] = 2 },
	}
	for name, edit := range edits {
		b := bytes.Clone(kf)
		edit(b)
		start := time.Now()
		_, _, err := Unwrap(b, []byte("pw"))
		if !format.IsCorrupt(err) {
			t.Errorf("%s: got %v, want corrupt", name, err)
		}
		if _, err := Inspect(b); !format.IsCorrupt(err) {
			t.Errorf("%s: Inspect got %v, want corrupt", name, err)
		}
		// Argon2 with these parameters would run for minutes; a second
		// leaves room for a busy CI machine.
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v, KDF must not run", name, d)
		}
	}
}

func TestVersion(t *testing.T) {
	kf, _ := Wrap(testMaster(t), []byte("pw"), TestKDF, "", created, nil)
	kf[4] = 2
	_, _, err := Unwrap(kf, []byte("pw"))
	if !errors.Is(err, format.ErrVersion) || !format.IsCorrupt(err) {
		t.Fatalf("version 2: got %v", err)
	}
}

// TestTruncated checks every proper prefix and an extended file: all are
// structural damage, found before the KDF runs, never a wrong password.
func TestTruncated(t *testing.T) {
	kf, _ := Wrap(testMaster(t), []byte("pw"), TestKDF, "label", created, nil)
	for n := range len(kf) {
		_, _, err := Unwrap(kf[:n], []byte("pw"))
		if !format.IsCorrupt(err) {
			t.Fatalf("prefix %d: got %v, want corrupt", n, err)
		}
	}
	if _, _, err := Unwrap(append(bytes.Clone(kf), 0), []byte("pw")); !format.IsCorrupt(err) {
		t.Fatalf("trailing byte: got %v", err)
	}
}

// TestBitFlips flips every bit. Flips in fields the reader checks
// structurally (magic, version, KDF ID, bounds, label length, UTF-8) are
// corrupt; flips anywhere else (salt, nonce, in-bounds costs, creation
// time, label text, ciphertext, tag) fail authentication and so look like a
// wrong password. Nothing may decode.
func TestBitFlips(t *testing.T) {
	kf, _ := Wrap(testMaster(t), []byte("pw"), TestKDF, "label", created, nil)
	var corrupt, wrong int
	for i := range len(kf) * 8 {
		b := bytes.Clone(kf)
		b[i/8] ^= 1 << (i % 8)
		if info, err := Inspect(b); err == nil && info.KDF.MemoryKiB > 16<<10 {
			// An in-bounds but large memory cost: the flipped byte is
			// authenticated like the salt, so this can only be a wrong
			// password. Skip Argon2 with up to 1 GiB to keep the test fast.
			wrong++
			continue
		}
		_, _, err := Unwrap(b, []byte("pw"))
		switch {
		case format.IsCorrupt(err):
			corrupt++
		case errors.Is(err, ErrWrongPassword):
			wrong++
		default:
			t.Fatalf("bit %d (byte %d): got %v", i, i/8, err)
		}
	}
	t.Logf("%d flips corrupt, %d wrong password", corrupt, wrong)
}

// TestBadPayload seals payloads a correct writer never produces, with the
// right password: they authenticate, so they must fail in decoding.
func TestBadPayload(t *testing.T) {
	m := testMaster(t)
	good := m.appendPayload(nil)
	salt, nonce := make([]byte, SaltSize), make([]byte, NonceSize)
	cases := map[string][]byte{
		"version 2":      append([]byte{2}, good[1:]...),
		"avg not pow2":   append(bytes.Clone(good[:53]), 0, 0, 0x10, 1, 0, 0x80, 0, 0),
		"max over limit": append(bytes.Clone(good[:57]), 0x7f, 0, 0, 0),
		"empty":          {},
	}
	for name, payload := range cases {
		kf := seal(payload, []byte("pw"), TestKDF, "", created, salt, nonce)
		_, _, err := Unwrap(kf, []byte("pw"))
		if !format.IsCorrupt(err) {
			t.Errorf("%s: got %v, want corrupt", name, err)
		}
	}
	// The same path with the genuine payload works.
	kf := seal(good, []byte("pw"), TestKDF, "", created, salt, nonce)
	if got, _, err := Unwrap(kf, []byte("pw")); err != nil || *got != *m {
		t.Fatalf("genuine payload: %v", err)
	}
}

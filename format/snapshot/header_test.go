package snapshot

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// TestGolden pins the header bytes, its ID and the reference list. A change
// here is a format change: bump the version instead of updating the files.
func TestGolden(t *testing.T) {
	h := sampleHeader()
	b := h.Encode()
	golden(t, "header.hex", b)
	id := h.ID()
	golden(t, "header-id.hex", id[:])
	refs, err := EncodeRefs(sampleRefs())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "refs.hex", refs)
	// The inputs as JSON, so a second implementation can rebuild them.
	key := testMACKey()
	js, err := json.MarshalIndent(struct {
		MACKey string
		Header *Header
		Refs   []format.ID
	}{hex.EncodeToString(key[:]), h, sampleRefs()}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	jsPath := goldenDir + "/inputs.json"
	if *update {
		if err := os.WriteFile(jsPath, js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if old, err := os.ReadFile(jsPath); err != nil || !bytes.Equal(old, js) {
		t.Fatalf("%s is missing or stale (run with -update): %v", jsPath, err)
	}
	if !bytes.Equal(refs[len(refs)-32:], h.RefsHash[:]) {
		t.Fatal("RefsHash is not the list's checksum")
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := sampleHeader()
	b := h.Encode()
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, h)
	}
	if err := got.Verify(testMACKey()); err != nil {
		t.Fatal(err)
	}
	if got.ID() != h.ID() || !bytes.Equal(got.Encode(), b) {
		t.Fatal("re-encoding differs")
	}
	// Minimal header: no labels, tags, paths, parent.
	m := &Header{Source: Source{Kind: KindPath}, Root: h.Root, RefCount: 1}
	got, err = Decode(m.Encode())
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("minimal header: %v", err)
	}
}

func TestHeaderTruncated(t *testing.T) {
	b := sampleHeader().Encode()
	for n := range len(b) {
		_, err := Decode(b[:n])
		mustCorrupt(t, "prefix", err)
	}
	_, err := Decode(append(b, 0))
	mustCorrupt(t, "trailing byte", err)
}

// TestHeaderBitFlips: a flipped bit either breaks the structure or, inside
// a value, fails the MAC; and it always changes the ID.
func TestHeaderBitFlips(t *testing.T) {
	b := sampleHeader().Encode()
	id := sampleHeader().ID()
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		h, err := Decode(c)
		if err == nil {
			err = h.Verify(testMACKey())
			if h.ID() == id {
				t.Fatalf("bit %d: same ID", i)
			}
		}
		if !format.IsCorrupt(err) {
			t.Fatalf("bit %d: got %v", i, err)
		}
	}
}

// TestMACCoversEveryField changes each field in turn (the list is checked
// against the struct by reflection) and expects Verify to fail.
func TestMACCoversEveryField(t *testing.T) {
	mutate := map[string]func(h *Header){
		"Time":          func(h *Header) { h.Time++ },
		"Host":          func(h *Header) { h.Host += "x" },
		"Source.Kind":   func(h *Header) { h.Source.Kind = KindDockerVolume },
		"Source.Name":   func(h *Header) { h.Source.Name = "other" },
		"Source.Labels": func(h *Header) { h.Source.Labels[1].Value = "postgres-1" },
		"Tags":          func(h *Header) { h.Tags = h.Tags[:1] },
		"Paths":         func(h *Header) { h.Paths = append(h.Paths, "/etc") },
		"Parent":        func(h *Header) { h.Parent[31] ^= 1 },
		"Root":          func(h *Header) { h.Root[0].Length-- },
		"Size":          func(h *Header) { h.Size++ },
		"Files":         func(h *Header) { h.Files++ },
		"Dirs":          func(h *Header) { h.Dirs++ },
		"BytesAdded":    func(h *Header) { h.BytesAdded++ },
		"ClientVersion": func(h *Header) { h.ClientVersion = "holdfast 0.1.1" },
		"RefCount":      func(h *Header) { h.RefCount++ },
		"RefsHash":      func(h *Header) { h.RefsHash[0] ^= 0x80 },
		"MAC":           func(h *Header) { h.MAC[5] ^= 1 },
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Header](), reflect.TypeFor[Source]()} {
		for f := range typ.Fields() {
			name := f.Name
			if typ.Name() == "Source" {
				name = "Source." + name
			}
			if _, ok := mutate[name]; !ok && name != "Source" {
				t.Errorf("field %s has no mutation in this test", name)
			}
		}
	}
	id := sampleHeader().ID()
	for name, fn := range mutate {
		h := sampleHeader()
		fn(h)
		err := h.Verify(testMACKey())
		if !format.IsCorrupt(err) || !strings.Contains(err.Error(), "not written by a holder of the repository key") {
			t.Errorf("%s changed: Verify gave %v", name, err)
		}
		if h.ID() == id {
			t.Errorf("%s changed: ID unchanged", name)
		}
		// Through the encoding too, where the change still decodes.
		if d, err := Decode(h.Encode()); err == nil && d.Verify(testMACKey()) == nil {
			t.Errorf("%s changed: decoded header verifies", name)
		}
	}
	wrongKey := testMACKey()
	wrongKey[0] ^= 1
	if err := sampleHeader().Verify(wrongKey); !format.IsCorrupt(err) {
		t.Errorf("wrong key: %v", err)
	}
}

func TestHeaderInvalid(t *testing.T) {
	cases := map[string]func(h *Header){
		"unsorted tags":        func(h *Header) { h.Tags = []string{"b", "a"} },
		"duplicate tags":       func(h *Header) { h.Tags = []string{"a", "a"} },
		"empty tag":            func(h *Header) { h.Tags = []string{""} },
		"long tag":             func(h *Header) { h.Tags = []string{strings.Repeat("t", format.MaxNameLen+1)} },
		"unsorted labels":      func(h *Header) { h.Source.Labels[0], h.Source.Labels[1] = h.Source.Labels[1], h.Source.Labels[0] },
		"duplicate label keys": func(h *Header) { h.Source.Labels[1].Key = h.Source.Labels[0].Key },
		"empty label key":      func(h *Header) { h.Source.Labels[0].Key = "" },
		"empty kind":           func(h *Header) { h.Source.Kind = "" },
		"upper-case kind":      func(h *Header) { h.Source.Kind = "Path" },
		"long kind":            func(h *Header) { h.Source.Kind = strings.Repeat("k", MaxKindLen+1) },
		"long host":            func(h *Header) { h.Host = strings.Repeat("h", format.MaxNameLen+1) },
		"no root":              func(h *Header) { h.Root = nil },
		"root hole":            func(h *Header) { h.Root[1] = tree.Extent{Hole: true, Length: 5} },
		"root zero length":     func(h *Header) { h.Root[1].Length = 0 },
		"root too long":        func(h *Header) { h.Root[1].Length = format.MaxChunkSize + 1 },
		"no references":        func(h *Header) { h.RefCount = 0 },
		"empty path":           func(h *Header) { h.Paths = []string{""} },
		"NUL in path":          func(h *Header) { h.Paths = []string{"/a\x00"} },
		"long client version":  func(h *Header) { h.ClientVersion = strings.Repeat("v", MaxClientVersion+1) },
		"too large": func(h *Header) {
			for i := range 300 {
				h.Paths = append(h.Paths, "/"+strings.Repeat("p", 4000)+string(rune('a'+i%26)))
			}
		},
	}
	for name, fn := range cases {
		h := sampleHeader()
		fn(h)
		if err := h.Validate(); err == nil || format.IsCorrupt(err) {
			t.Errorf("%s: Validate gave %v", name, err)
		}
		h.Sign(testMACKey()) // so only the rule, not the MAC, is wrong
		_, err := Decode(h.Encode())
		mustCorrupt(t, name, err)
	}
}

func TestHeaderBadBytes(t *testing.T) {
	good := sampleHeader().Encode()
	v2 := bytes.Clone(good)
	v2[4] = 2
	// Time as a non-minimal varint: 0x80-terminated padding.
	nonMin := append(append(bytes.Clone(good[:5]), 0x80, 0x00), good[6:]...)
	m := &Header{Source: Source{Kind: KindPath}, Root: sampleHeader().Root, RefCount: 1}
	mb := m.Encode()
	cases := map[string][]byte{
		"empty":             nil,
		"bad magic":         append([]byte("HFSX"), good[4:]...),
		"version 2":         v2,
		"non-minimal":       nonMin,
		"over the max size": make([]byte, MaxHeaderSize+1),
		// Minimal header with the label count (after time, host, kind, name) set huge.
		"label count 2^40": append(append(bytes.Clone(mb[:5+1+1+1+len(KindPath)+1]), 0x80, 0x80, 0x80, 0x80, 0x80, 0x20), mb[5+1+1+1+len(KindPath)+1+1:]...),
	}
	for name, b := range cases {
		var err error
		n := allocBytes(func() { _, err = Decode(b) })
		mustCorrupt(t, name, err)
		if n > 64<<10 && len(b) < 1000 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
	if _, err := Decode(v2); !errors.Is(err, format.ErrVersion) {
		t.Errorf("version 2: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	h := sampleHeader()
	h.Tags = []string{"prod", "daily", "prod"}
	h.Source.Labels = []Label{{"pvc", "x"}, {"namespace", "y"}}
	h.Normalize()
	if !reflect.DeepEqual(h.Tags, []string{"daily", "prod"}) || h.Source.Labels[0].Key != "namespace" {
		t.Fatalf("Normalize: %v %v", h.Tags, h.Source.Labels)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
}

package shard

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

func xof(label string, n int) []byte {
	h := blake3.New()
	h.WriteString(label)
	b := make([]byte, n)
	h.Digest().Read(b)
	return b
}

// xofInts returns n deterministic non-negative int64s from label.
func xofInts(label string, n int) []int64 {
	b := xof(label, 8*n)
	v := make([]int64, n)
	for i := range v {
		for _, c := range b[8*i : 8*i+8] {
			v[i] = v[i]<<8 | int64(c)
		}
		v[i] &= 1<<62 - 1
	}
	return v
}

func TestShardSize(t *testing.T) {
	cases := []struct {
		packLen int64
		k       int
		want    int64
	}{
		{0, 4, 0}, {1, 0, 0}, {1, 1, 64}, {64, 1, 64}, {65, 1, 128}, {256, 4, 64}, {257, 4, 128},
		{987, 4, 256}, {32 << 20, 4, 8 << 20}, {32<<20 + 1, 4, 8<<20 + 64}, {format.MaxPackSize, 32, 32 << 20},
	}
	for _, c := range cases {
		if got := ShardSize(c.packLen, c.k); got != c.want {
			t.Errorf("ShardSize(%d, %d) = %d, want %d", c.packLen, c.k, got, c.want)
		}
	}
}

// TestLocate checks, over many deterministic ranges, that the spans tile
// the range exactly, in order, each inside one shard.
func TestLocate(t *testing.T) {
	v := xofInts("locate", 3*5000)
	for i := 0; i < len(v); i += 3 {
		size := (v[i]%1000 + 1) * Align
		off := v[i+1] % (40 * size)
		length := v[i+2]%(5*size) + 1
		if i%7 == 0 { // ranges that start or end on a shard boundary
			off = off / size * size
		}
		if i%11 == 0 {
			length = (off/size+2)*size - off
		}
		spans := Locate(off, length, size)
		pos, total := off, int64(0)
		for j, s := range spans {
			if s.Length <= 0 || s.Offset < 0 || s.Offset+s.Length > size {
				t.Fatalf("Locate(%d, %d, %d) span %d = %+v outside its shard", off, length, size, j, s)
			}
			if int64(s.Index)*size+s.Offset != pos {
				t.Fatalf("Locate(%d, %d, %d) span %d = %+v starts at %d, want %d", off, length, size, j, s, int64(s.Index)*size+s.Offset, pos)
			}
			if j > 0 && (s.Index != spans[j-1].Index+1 || s.Offset != 0) {
				t.Fatalf("Locate(%d, %d, %d): span %d does not continue in the next shard", off, length, size, j)
			}
			pos += s.Length
			total += s.Length
		}
		if total != length || pos != off+length {
			t.Fatalf("Locate(%d, %d, %d) covers %d bytes", off, length, size, total)
		}
	}
	for _, bad := range [][3]int64{{0, 0, 64}, {-1, 5, 64}, {0, 5, 0}, {format.MaxPackSize, 1, 64}, {1 << 62, 1 << 62, 64}} {
		if s := Locate(bad[0], bad[1], bad[2]); s != nil {
			t.Errorf("Locate%v = %v, want nil", bad, s)
		}
	}
}

func testPack(n int) []byte { return xof(fmt.Sprintf("pack %d", n), n) }

func TestSplitJoin(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 255, 256, 257, 987, 10000, 1 << 16} {
		for _, km := range [][2]int{{1, 0}, {1, 1}, {4, 0}, {4, 2}, {3, 3}, {10, 4}, {16, 16}, {32, 0}} {
			k, m := km[0], km[1]
			pack := testPack(n)
			shards, err := Split(pack, k, m)
			if err != nil {
				t.Fatal(err)
			}
			size := ShardSize(int64(n), k)
			for i, s := range shards {
				if int64(len(s)) != size {
					t.Fatalf("n=%d %d+%d: shard %d has %d bytes, want %d", n, k, m, i, len(s), size)
				}
			}
			// Systematic: data shards are the pack, zero padded.
			joined := bytes.Join(shards[:k], nil)
			if !bytes.Equal(joined[:n], pack) || bytes.Count(joined[n:], []byte{0}) != len(joined)-n {
				t.Fatalf("n=%d %d+%d: data shards are not the padded pack", n, k, m)
			}
			// Range reads through Locate give the pack's bytes.
			for _, r := range [][2]int{{0, n}, {n / 3, n / 2}, {n - 1, 1}, {n / 2, (n + 1) / 2}} {
				var got []byte
				for _, sp := range Locate(int64(r[0]), int64(r[1]), size) {
					got = append(got, shards[sp.Index][sp.Offset:sp.Offset+sp.Length]...)
				}
				if r[1] > 0 && !bytes.Equal(got, pack[r[0]:r[0]+r[1]]) {
					t.Fatalf("n=%d %d+%d: range %v through Locate differs", n, k, m, r)
				}
			}
			// Losing any m shards (here: the first m) still rebuilds it.
			given := append([][]byte(nil), shards...)
			for i := range m {
				given[i] = nil
			}
			got, err := Join(given, k, m, int64(n))
			if err != nil || !bytes.Equal(got, pack) {
				t.Fatalf("n=%d %d+%d: Join: %v", n, k, m, err)
			}
			if m > 0 && given[0] != nil {
				t.Fatal("Join changed the caller's slice")
			}
		}
	}
}

// TestSplitInPlace: a pack with room for its parity is coded in its own
// backing array, with the same shards as a pack without room, whatever
// the spare capacity held before (a reused buffer holds the last pack).
func TestSplitInPlace(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 987, 10000, 1<<16 + 1} {
		for _, km := range [][2]int{{1, 0}, {4, 0}, {4, 2}, {3, 3}, {10, 4}} {
			k, m := km[0], km[1]
			pack := testPack(n)
			want, err := Split(pack, k, m)
			if err != nil {
				t.Fatal(err)
			}
			room := int(SplitCap(int64(n), k, m))
			buf := xof("garbage", room+7)[:n]
			copy(buf, pack)
			got, err := Split(buf, k, m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("n=%d %d+%d: shard %d differs from the allocating split", n, k, m, i)
				}
				if &got[i][0] != &buf[:room][i*len(got[i])] {
					t.Fatalf("n=%d %d+%d: shard %d is not in the pack's buffer", n, k, m, i)
				}
			}
			if !bytes.Equal(buf, pack) {
				t.Fatalf("n=%d %d+%d: split changed the pack", n, k, m)
			}
		}
	}
}

// TestJoinMissing: for k=4, m=2, every set of up to two missing shards
// rebuilds the exact pack, and every set of three fails with
// ErrTooFewShards rather than returning wrong data.
func TestJoinMissing(t *testing.T) {
	const k, m = 4, 2
	pack := testPack(5000)
	shards, err := Split(pack, k, m)
	if err != nil {
		t.Fatal(err)
	}
	for mask := range 1 << (k + m) {
		given := make([][]byte, k+m)
		missing := 0
		for i := range given {
			if mask&(1<<i) != 0 {
				missing++
			} else {
				given[i] = bytes.Clone(shards[i])
			}
		}
		got, err := Join(given, k, m, int64(len(pack)))
		switch {
		case missing <= m && (err != nil || !bytes.Equal(got, pack)):
			t.Fatalf("missing %06b: Join = %v, exact=%v", mask, err, bytes.Equal(got, pack))
		case missing > m && (!errors.Is(err, ErrTooFewShards) || format.IsCorrupt(err) || got != nil):
			t.Fatalf("missing %06b: Join = %v, want ErrTooFewShards", mask, err)
		}
		// Reconstruct fills in every shard, parity included.
		err = Reconstruct(given, k, m, int64(len(pack)))
		if missing <= m {
			for i := range given {
				if err != nil || !bytes.Equal(given[i], shards[i]) {
					t.Fatalf("missing %06b: Reconstruct shard %d: %v", mask, i, err)
				}
			}
		} else if !errors.Is(err, ErrTooFewShards) {
			t.Fatalf("missing %06b: Reconstruct = %v, want ErrTooFewShards", mask, err)
		}
	}
}

func TestJoinErrors(t *testing.T) {
	pack := testPack(300)
	shards, _ := Split(pack, 4, 2)
	if _, err := Join(shards[:5], 4, 2, 300); err == nil {
		t.Error("wrong shard count accepted")
	}
	short := append([][]byte(nil), shards...)
	short[1] = short[1][:10]
	if _, err := Join(short, 4, 2, 300); err == nil {
		t.Error("short shard accepted")
	}
	// 299 has the same shard size, so pack byte 299 (not zero) becomes
	// "padding".
	if _, err := Join(shards, 4, 2, 299); pack[299] != 0 && !format.IsCorrupt(err) {
		t.Errorf("too short pack length: %v", err)
	}
	for _, km := range [][2]int{{0, 1}, {1, -1}, {30, 3}} {
		if _, err := Split(pack, km[0], km[1]); err == nil {
			t.Errorf("Split with %d+%d accepted", km[0], km[1])
		}
	}
	if _, err := Split(nil, 4, 2); err == nil {
		t.Error("Split of an empty pack accepted")
	}
	// Padding that is not zero means the shards do not belong together.
	bad := append([][]byte(nil), shards...)
	bad[3] = bytes.Clone(bad[3])
	bad[3][len(bad[3])-1] = 1
	if _, err := Join(bad, 4, 2, 300); !format.IsCorrupt(err) {
		t.Errorf("nonzero padding: %v", err)
	}
}

func testHeader(t *testing.T) (Header, []byte) {
	pack := testPack(987)
	shards, err := Split(pack, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	return NewHeader(format.ID(blake3.Sum256(pack)), 987, 4, 2, 5, shards[5]), shards[5]
}

func TestHeader(t *testing.T) {
	h, data := testHeader(t)
	b, err := EncodeHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != HeaderSize {
		t.Fatalf("header is %d bytes", len(b))
	}
	got, err := DecodeHeader(b)
	if err != nil || got != h {
		t.Fatalf("DecodeHeader = %+v, %v", got, err)
	}
	obj := append(bytes.Clone(b), data...)
	gh, gd, err := DecodeObject(obj)
	if err != nil || gh != h || !bytes.Equal(gd, data) {
		t.Fatalf("DecodeObject: %v", err)
	}
	for n := range len(obj) {
		if _, _, err := DecodeObject(obj[:n]); !format.IsCorrupt(err) {
			t.Fatalf("prefix %d: %v", n, err)
		}
	}
	if _, _, err := DecodeObject(append(obj, 0)); !format.IsCorrupt(err) {
		t.Fatalf("trailing byte: %v", err)
	}
	for i := range len(obj) * 8 {
		o := bytes.Clone(obj)
		o[i/8] ^= 1 << (i % 8)
		if _, _, err := DecodeObject(o); !format.IsCorrupt(err) {
			t.Fatalf("bit %d: %v", i, err)
		}
	}
	v := bytes.Clone(b)
	v[4] = 2
	if _, err := DecodeHeader(v); !errors.Is(err, format.ErrVersion) {
		t.Fatalf("version: %v", err)
	}
}

// TestHeaderRules: headers that break a layout rule are refused by the
// encoder, and (with a valid checksum) by the decoder.
func TestHeaderRules(t *testing.T) {
	good, _ := testHeader(t)
	mod := func(f func(*Header)) Header { h := good; f(&h); return h }
	cases := map[string]Header{
		"k=0":           mod(func(h *Header) { h.K = 0 }),
		"k+m>32":        mod(func(h *Header) { h.K, h.M = 30, 3; h.DataLen = ShardSize(h.PackLen, 30) }),
		"index=k+m":     mod(func(h *Header) { h.Index = 6 }),
		"empty pack":    mod(func(h *Header) { h.PackLen, h.DataLen = 0, 0 }),
		"huge pack":     mod(func(h *Header) { h.PackLen = format.MaxPackSize + 1; h.DataLen = ShardSize(h.PackLen, 4) }),
		"data len":      mod(func(h *Header) { h.DataLen += Align }),
		"negative m":    mod(func(h *Header) { h.M = -1 }),
		"negative idx":  mod(func(h *Header) { h.Index = -1 }),
		"unaligned len": mod(func(h *Header) { h.DataLen-- }),
	}
	for name, h := range cases {
		if _, err := EncodeHeader(h); err == nil {
			t.Errorf("%s: encoded", name)
		}
		if h.K < 0 || h.M < 0 || h.Index < 0 || h.K > 255 || h.M > 255 {
			continue
		}
		// Encode by hand with a correct checksum.
		b, _ := EncodeHeader(good)
		b[5], b[6], b[7] = byte(h.K), byte(h.M), byte(h.Index)
		for i := range 8 {
			b[40+i] = byte(uint64(h.PackLen) >> (56 - 8*i))
			b[48+i] = byte(uint64(h.DataLen) >> (56 - 8*i))
		}
		sum := blake3.Sum256(b[:88])
		copy(b[88:], sum[:8])
		if _, err := DecodeHeader(b); !format.IsCorrupt(err) {
			t.Errorf("%s: decoded: %v", name, err)
		}
	}
}

func TestVerify(t *testing.T) {
	h, data := testHeader(t)
	if err := Verify(h, data); err != nil {
		t.Fatal(err)
	}
	d := bytes.Clone(data)
	d[0] ^= 1
	if err := Verify(h, d); !format.IsCorrupt(err) {
		t.Fatal(err)
	}
	if err := Verify(h, data[1:]); !format.IsCorrupt(err) {
		t.Fatal(err)
	}
}

func TestObjectName(t *testing.T) {
	id := format.ID(blake3.Sum256([]byte("name")))
	hx := id.String()
	name := ObjectName("prod-db", id, 5)
	if want := "prod-db/packs/" + hx[:2] + "/" + hx + ".05"; name != want {
		t.Fatalf("ObjectName = %q, want %q", name, want)
	}
	if !strings.HasPrefix(name, Prefix("prod-db")) {
		t.Fatal("Prefix")
	}
	repo, got, idx, err := ParseObjectName(name)
	if err != nil || repo != "prod-db" || got != id || idx != 5 {
		t.Fatalf("ParseObjectName = %q %v %d %v", repo, got, idx, err)
	}
	other := "00"
	if hx[:2] == other {
		other = "01"
	}
	bad := []string{
		"", "prod-db", name + "0", name[:len(name)-1], "Prod/packs/" + hx[:2] + "/" + hx + ".05",
		"prod-db/packs/" + other + "/" + hx + ".05",
		"prod-db/packs/" + strings.ToUpper(hx[:2]) + "/" + strings.ToUpper(hx) + ".05",
		"prod-db/packs/" + hx[:2] + "/" + hx + ".32",
		"prod-db/packs/" + hx[:2] + "/" + hx + ".-1",
		"prod-db/packs/" + hx[:2] + "/" + hx + ".5",
		"prod-db/packs/" + hx[:2] + "/" + hx + "x05",
		"prod-db/pack/" + hx[:2] + "/" + hx + ".05",
		"a/b/packs/" + hx[:2] + "/" + hx + ".05",
	}
	for _, b := range bad {
		if _, _, _, err := ParseObjectName(b); !format.IsCorrupt(err) {
			t.Errorf("ParseObjectName(%q) = %v", b, err)
		}
	}
}

// TestMaxShardsAgrees: indexkey keeps its own copy of MaxShards (it cannot
// import this package); the two must accept the same layouts.
func TestMaxShardsAgrees(t *testing.T) {
	rec := func(k, m int) error {
		_, err := indexkey.EncodePackRecord(indexkey.PackRecord{Length: 1 << 20, K: k, M: m, Stores: make([]uint16, k+m)})
		return err
	}
	if rec(MaxShards-2, 2) != nil || rec(MaxShards-1, 2) == nil {
		t.Fatal("indexkey's shard limit differs from MaxShards")
	}
}

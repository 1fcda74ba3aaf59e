package backendtest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

func testAbsent(t *testing.T, b backend.Backend, _ config) {
	ctx := context.Background()
	checkAbsent(t, b, "absent/object")
	rc, err := b.Get(ctx, "absent/object", 10, 5)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("ranged Get of absent object: got %v, want ErrNotExist", err)
	}
	if got := listNames(t, b, ""); len(got) != 0 {
		t.Fatalf("List of empty store: got %v", got)
	}
	if err := b.Delete(ctx, "absent/object"); err != nil {
		t.Fatalf("Delete of absent object: %v", err)
	}
}

func testPutGet(t *testing.T, b backend.Backend, _ config) {
	data := randBytes(1, 1000)
	put(t, b, "r/packs/ab/obj.01", data)
	checkRead(t, b, "r/packs/ab/obj.01", 0, -1, data)
	checkRead(t, b, "r/packs/ab/obj.01", 0, int64(len(data)), data)

	put(t, b, "empty", nil)
	checkRead(t, b, "empty", 0, -1, []byte{})
	checkRead(t, b, "empty", 0, 0, []byte{})

	// A reader owns its bytes: changing the caller's slice after Put changes
	// nothing.
	data[0] ^= 0xff
	got := mustRead(t, b, "r/packs/ab/obj.01", 0, 1)
	if got[0] == data[0] {
		t.Fatalf("store kept a reference to the payload slice")
	}
}

func testRangeGet(t *testing.T, b backend.Backend, _ config) {
	ctx := context.Background()
	data := randBytes(2, 1000)
	put(t, b, "obj", data)
	for _, r := range []struct{ off, n int64 }{
		{100, 200}, {0, 1}, {999, 1}, {900, -1}, {0, 1000}, {0, -1},
		{500, 0}, {0, 0}, {1000, 0}, {1000, -1},
	} {
		end := int64(len(data))
		if r.n >= 0 {
			end = r.off + r.n
		}
		checkRead(t, b, "obj", r.off, r.n, data[r.off:end])
	}
	for _, r := range []struct{ off, n int64 }{
		{1001, -1}, {1001, 0}, {900, 101}, {0, 1001}, {-1, 10}, {2000, 10},
	} {
		rc, err := b.Get(ctx, "obj", r.off, r.n)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, backend.ErrRange) {
			t.Errorf("Get(obj, %d, %d) of 1000 bytes: got %v, want ErrRange", r.off, r.n, err)
		}
	}
}

func testStatSize(t *testing.T, b backend.Backend, _ config) {
	for i, n := range []int64{0, 1, 4097} {
		name := backend.Name("stat/" + string(rune('a'+i)))
		put(t, b, name, randBytes(3, n))
		fi, err := b.Stat(context.Background(), name)
		if err != nil {
			t.Fatalf("Stat(%s): %v", name, err)
		}
		if fi.Name != name || fi.Size != n || fi.ModTime.IsZero() {
			t.Fatalf("Stat(%s) = %+v, want size %d and a modification time", name, fi, n)
		}
	}
}

func testListPrefix(t *testing.T, b backend.Backend, _ config) {
	all := []string{
		"r/idx/5", "r/packs/a/4", "r/packs/ab/1", "r/packs/ab/2", "r/packs/ac/3",
		"r2/x", "top", "top.1",
	}
	for i, name := range all {
		put(t, b, backend.Name(name), randBytes(uint64(i), int64(i)))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"r", all[:6]},
		{"r/", all[:5]},
		{"r/packs/", all[1:5]},
		{"r/packs/a", all[1:5]},
		{"r/packs/a/", all[1:2]},
		{"r/packs/ab", all[2:4]},
		{"r/packs/ab/", all[2:4]},
		{"r/packs/ab/1", all[2:3]},
		{"r/packs/ab/1x", nil},
		{"r/packs/ab/1/", nil},
		{"r/packs/b", nil},
		{"nothing/", nil},
		{"top", all[6:8]},
		{"top/", nil},
		{"top.", all[7:8]},
	} {
		got := listNames(t, b, tc.prefix)
		if tc.want == nil {
			tc.want = []string{}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	// Sizes come with the names.
	err := b.List(context.Background(), "r/packs/ab/", func(fi backend.Info) error {
		want := int64(slices.Index(all, string(fi.Name)))
		if fi.Size != want || fi.ModTime.IsZero() {
			t.Errorf("List: %+v, want size %d and a modification time", fi, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testListStops(t *testing.T, b backend.Backend, _ config) {
	for _, name := range []backend.Name{"s/1", "s/2", "s/3"} {
		put(t, b, name, []byte("x"))
	}
	stop := errors.New("stop here")
	calls := 0
	err := b.List(context.Background(), "s/", func(backend.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List with failing fn: err %v after %d calls, want %q after 1", err, calls, stop)
	}
}

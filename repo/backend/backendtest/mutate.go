package backendtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

func testIdempotentPut(t *testing.T, b backend.Backend, _ config) {
	data := randBytes(4, 3000)
	put(t, b, "idem/obj", data)
	put(t, b, "idem/obj", data)
	checkRead(t, b, "idem/obj", 0, -1, data)
	if got := listNames(t, b, "idem/"); !slices.Equal(got, []string{"idem/obj"}) {
		t.Fatalf("List after re-put: %q", got)
	}
}

// testOverwrite pins down that the last writer wins. Callers never rely on
// it (they only rewrite identical content), but every store must agree.
func testOverwrite(t *testing.T, b backend.Backend, _ config) {
	put(t, b, "over/obj", randBytes(5, 100))
	second := randBytes(6, 50)
	put(t, b, "over/obj", second)
	checkRead(t, b, "over/obj", 0, -1, second)
	fi, err := b.Stat(context.Background(), "over/obj")
	if err != nil || fi.Size != 50 {
		t.Fatalf("Stat after overwrite: %+v, %v; want size 50", fi, err)
	}
}

func testDoubleDelete(t *testing.T, b backend.Backend, _ config) {
	ctx := context.Background()
	put(t, b, "del/obj", []byte("doomed"))
	put(t, b, "del/keep", []byte("kept"))
	for i := range 2 {
		if err := b.Delete(ctx, "del/obj"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
		checkAbsent(t, b, "del/obj")
	}
	if got := listNames(t, b, "del/"); !slices.Equal(got, []string{"del/keep"}) {
		t.Fatalf("List after delete: %q", got)
	}
	// A deleted name can be put again.
	put(t, b, "del/obj", []byte("back"))
	checkRead(t, b, "del/obj", 0, -1, []byte("back"))
}

func testConcurrentPuts(t *testing.T, b backend.Backend, _ config) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	same := randBytes(7, 2048)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			name := backend.Name(fmt.Sprintf("conc/%02d/obj", i))
			if err := b.Put(ctx, name, backend.Bytes(randBytes(uint64(i), 1000+int64(i)))); err != nil {
				errs <- err
			}
			if err := b.Put(ctx, "conc/same", backend.Bytes(same)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	got := listNames(t, b, "conc/")
	if len(got) != n+1 {
		t.Fatalf("List after %d concurrent puts: %d names: %q", n, len(got), got)
	}
	for i := range n {
		name := backend.Name(fmt.Sprintf("conc/%02d/obj", i))
		checkRead(t, b, name, 0, -1, randBytes(uint64(i), 1000+int64(i)))
	}
	checkRead(t, b, "conc/same", 0, -1, same)
}

func testLarge(t *testing.T, b backend.Backend, c config) {
	data := randBytes(8, c.largeSize)
	put(t, b, "large/obj", data)
	fi, err := b.Stat(context.Background(), "large/obj")
	if err != nil || fi.Size != c.largeSize {
		t.Fatalf("Stat: %+v, %v; want size %d", fi, err, c.largeSize)
	}
	checkRead(t, b, "large/obj", 0, -1, data)
	mid := c.largeSize / 2
	checkRead(t, b, "large/obj", mid-1000, 5000, data[mid-1000:mid+4000])
	checkRead(t, b, "large/obj", c.largeSize-10, -1, data[c.largeSize-10:])
}

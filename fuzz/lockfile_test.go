package fuzz

import (
	"bytes"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/lockfile"
)

// FuzzLockFile: Decode never panics, refuses with corruption only, and
// re-encodes what it accepts to the same bytes. Each input is also tried
// with its checksum recomputed, so mutations reach the field checks.
func FuzzLockFile(f *testing.F) {
	seed, err := lockfile.Encode(lockfile.Lock{Snapshot: format.ID{1, 2, 3}, Mode: lockfile.Compliance,
		Until: time.Unix(2000000000, 5), Set: time.Unix(1700000000, 0)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		tries := [][]byte{b}
		if len(b) > 32 {
			fixed := bytes.Clone(b)
			sum := blake3.Sum256(fixed[:len(fixed)-32])
			copy(fixed[len(fixed)-32:], sum[:])
			tries = append(tries, fixed)
		}
		for _, in := range tries {
			l, err := lockfile.Decode(in)
			if err != nil {
				if !format.IsCorrupt(err) {
					t.Fatalf("error is not corruption: %v", err)
				}
				continue
			}
			out, err := lockfile.Encode(l)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("re-encoded lock differs: %v", err)
			}
		}
	})
}

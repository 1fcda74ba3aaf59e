package keys

import (
	"testing"
	"time"
)

// BenchmarkUnwrap reports what opening a key file with DefaultKDF costs.
func BenchmarkUnwrap(b *testing.B) {
	kf, err := Wrap(testMaster(b), []byte("correct horse"), DefaultKDF, "bench", time.Unix(0, 0), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := Unwrap(kf, []byte("correct horse")); err != nil {
			b.Fatal(err)
		}
	}
}

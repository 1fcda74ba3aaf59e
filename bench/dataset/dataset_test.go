package dataset

import (
	"os"
	"path/filepath"
	"testing"
)

func smallConfig() Config { return Config{Size: 24 << 20, Seed: 7} }

// TestGenerateDeterministic writes the same small set twice and checks the
// manifests agree, the size is exact, every kind is present, and Scan and
// Verify agree with Generate.
func TestGenerateDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ma, err := Generate(a, smallConfig())
	if err != nil {
		t.Fatal(err)
	}
	mb, err := Generate(b, smallConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := ma.Diff(mb); err != nil {
		t.Fatalf("two runs differ: %v", err)
	}
	if ma.Bytes != 24<<20 {
		t.Errorf("size %d, want %d", ma.Bytes, 24<<20)
	}
	kinds := ma.ByKind()
	for _, k := range []Kind{KindText, KindHalf, KindRandom, KindMedia, KindDup} {
		if kinds[k][0] == 0 {
			t.Errorf("no %s files: %v", k, kinds)
		}
	}
	if n := kinds[KindText][0] + kinds[KindDup][0]; n < int64(smallConfig().Size/(40<<10))-10 {
		t.Errorf("%d small files", n)
	}
	if err := Verify(a, ma); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(a, filepath.FromSlash(ma.Files[0].Path)))
	if err != nil || !st.ModTime().Before(baseTime.AddDate(1, 0, 0)) {
		t.Errorf("mtime not deterministic: %v %v", st.ModTime(), err)
	}
	other, err := Generate(t.TempDir(), Config{Size: 24 << 20, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	if ma.Diff(other) == nil {
		t.Error("another seed gave the same data")
	}
}

// TestMutate changes 1% twice from the same state with the same seed and
// checks the same bytes changed, sizes stayed, and Verify notices.
func TestMutate(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	m, err := Generate(a, smallConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(b, smallConfig()); err != nil {
		t.Fatal(err)
	}
	mu, err := Mutate(a, 0.01, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Mutate(b, 0.01, 3); err != nil {
		t.Fatal(err)
	}
	want := m.Bytes / 100
	if mu.Bytes < want*9/10 || mu.Bytes > want*11/10 || mu.Files == 0 {
		t.Errorf("mutation %+v, want about %d bytes", mu, want)
	}
	ma, err := Scan(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(b, ma); err != nil {
		t.Errorf("same seed, different mutation: %v", err)
	}
	if ma.Bytes != m.Bytes {
		t.Errorf("size changed: %d → %d", m.Bytes, ma.Bytes)
	}
	if err := Verify(a, m); err == nil {
		t.Error("Verify did not notice the mutation")
	}
	if _, err := Mutate(a, 0, 1); err == nil {
		t.Error("fraction 0 accepted")
	}
}

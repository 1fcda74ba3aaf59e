package mallocarena

import (
	"os"
	"runtime"
	"testing"
)

// TestLimit: with cgo on Linux the cap is set unless MALLOC_ARENA_MAX
// decides; elsewhere Limit reports that it did nothing.
func TestLimit(t *testing.T) {
	t.Setenv("MALLOC_ARENA_MAX", "4")
	if Limit(2) {
		t.Error("Limit overrode MALLOC_ARENA_MAX")
	}
	os.Unsetenv("MALLOC_ARENA_MAX") // Setenv restores it after the test
	want := cgoLinux && runtime.GOOS == "linux"
	if got := Limit(2); got != want {
		t.Errorf("Limit(2) = %v, want %v (cgo on Linux: %v)", got, want, cgoLinux)
	}
}

package gogc

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestDefault: the target is set without GOGC, left alone with it.
func TestDefault(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "100")
	os.Unsetenv("GOGC") // Setenv restores it after the test
	if !Default(50) {
		t.Error("Default did nothing without GOGC")
	}
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("GC percent %d without GOGC, want 50", got)
	}
	t.Setenv("GOGC", "200")
	if Default(50) {
		t.Error("Default overrode GOGC")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the GC percent changed to %d", got)
	}
}

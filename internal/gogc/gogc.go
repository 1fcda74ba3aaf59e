package gogc

import (
	"os"
	"runtime/debug"
)

// Default sets the garbage collector's target to percent unless the GOGC
// environment variable is set, and reports whether it did.
func Default(percent int) bool {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return false
	}
	debug.SetGCPercent(percent)
	return true
}

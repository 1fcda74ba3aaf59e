//go:build !linux

package tmpfs

import "testing"

// Mount skips the test: only Linux mounts a tmpfs this way.
func Mount(t testing.TB, _ int64) string {
	t.Helper()
	t.Skip("SKIP: tmpfs mounts are Linux-only")
	return ""
}

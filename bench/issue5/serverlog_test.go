package issue5

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerLogTail(t *testing.T) {
	dir := t.TempDir()
	if got := ServerLogTail(dir, 3); got != "" {
		t.Errorf("no log: %q, want empty", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, "server"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	for i := range 100 {
		fmt.Fprintf(&log, "line %d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "server", "holdfastd.log"), []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := ServerLogTail(dir, 3), "line 97\nline 98\nline 99\n"; got != want {
		t.Errorf("tail 3: %q, want %q", got, want)
	}
	if got := ServerLogTail(dir, 1000); got != log.String() {
		t.Errorf("tail 1000 is not the whole log: %d bytes of %d", len(got), log.Len())
	}
}

package issue5

import (
	"os"
	"path/filepath"
	"strings"
)

// ServerLogTail returns the last n lines of the server log of the run in
// workDir, or "" if it has none. The command removes a failed run's
// directory, and the log is where the server said why it failed (a
// panic, a full disk).
func ServerLogTail(workDir string, n int) string {
	b, err := os.ReadFile(filepath.Join(workDir, "server", "holdfastd.log"))
	if err != nil || n <= 0 {
		return ""
	}
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "") + "\n"
}

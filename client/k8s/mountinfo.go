package k8s

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MountPoints reads /proc/self/mountinfo and returns a function that says
// whether a path is a mount point in this mount namespace. The DaemonSet
// mounts the kubelet directory with HostToContainer propagation, so the
// volumes the kubelet mounts later show up here too.
func MountPoints() (func(string) bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("mount table: %w", err)
	}
	defer f.Close()
	set, err := parseMountinfo(f)
	if err != nil {
		return nil, err
	}
	return func(p string) bool { return set[filepath.Clean(p)] }, nil
}

// parseMountinfo collects field 5 (the mount point) of each line, with
// the kernel's octal escapes (\040 for a space...) undone.
func parseMountinfo(r io.Reader) (map[string]bool, error) {
	set := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			return nil, fmt.Errorf("mount table: short line %q", sc.Text())
		}
		set[filepath.Clean(unescapeOctal(f[4]))] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mount table: %w", err)
	}
	return set, nil
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

package dataset

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses a data set size: bytes, or a number with a KiB, MiB or
// GiB suffix ("2GiB", "64MiB", "1.5GiB").
func ParseSize(s string) (int64, error) {
	orig, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 2GiB, 64MiB or a byte count)", orig)
	}
	return int64(v * float64(mult)), nil
}

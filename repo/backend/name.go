package backend

import (
	"fmt"
	"strings"
)

// Name is a slash-separated object name, for example
// "myrepo/packs/ab/<hex>.03". Names are the same on every store: a local store
// maps segments to directories, an S3 store appends the name to its prefix.
//
// A valid name:
//   - is 1 to [MaxNameLen] bytes of [A-Za-z0-9._-] and "/";
//   - has no leading or trailing "/" and no empty segment ("a//b");
//   - has segments of at most 255 bytes that do not begin with "." (this
//     rules out "." and ".." and reserves dot names for store internals,
//     such as the local store's temporary files).
type Name string

// MaxNameLen is the longest valid [Name], in bytes.
const MaxNameLen = 512

// maxSegmentLen is NAME_MAX on common file systems.
const maxSegmentLen = 255

// Validate reports whether n follows the naming rules. The error wraps
// [ErrInvalidName].
func (n Name) Validate() error {
	if reason := checkName(string(n)); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, truncate(string(n)), reason)
	}
	return nil
}

// String returns the name as a string.
func (n Name) String() string { return string(n) }

// ValidatePrefix reports whether p can be a List prefix: empty, or the
// beginning of some valid name ("packs/", "packs/a"). The error wraps
// [ErrInvalidName].
func ValidatePrefix(p string) error {
	if p == "" {
		return nil
	}
	// p is a valid prefix exactly when completing its last segment with one
	// ordinary byte gives a valid name.
	if reason := checkName(p + "x"); reason != "" {
		return fmt.Errorf("%w: prefix %q: %s", ErrInvalidName, truncate(p), reason)
	}
	return nil
}

func checkName(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > MaxNameLen:
		return fmt.Sprintf("longer than %d bytes", MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return fmt.Sprintf("byte %#02x not allowed", s[i])
		}
	}
	for _, seg := range strings.Split(s, "/") {
		switch {
		case seg == "":
			return "empty segment (leading, trailing or double slash)"
		case seg[0] == '.':
			return "segment begins with a dot"
		case len(seg) > maxSegmentLen:
			return fmt.Sprintf("segment longer than %d bytes", maxSegmentLen)
		}
	}
	return ""
}

func nameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.', c == '_', c == '-', c == '/':
		return true
	}
	return false
}

// truncate keeps error messages short when a caller passes a huge name.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

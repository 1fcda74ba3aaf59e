package indexkey

// MaxRepoNameLen is the longest repository name.
const MaxRepoNameLen = 63

// ValidRepoName reports whether s is a valid repository name:
// [a-z0-9][a-z0-9-]{0,62}. Names appear in object names on every store (see
// package shard), in S3 keys and in directory names, so they are limited to
// characters that mean the same everywhere and cannot form "." or "..".
func ValidRepoName(s string) bool {
	if len(s) == 0 || len(s) > MaxRepoNameLen || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

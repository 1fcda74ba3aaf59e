//go:build !linux

package index

import "errors"

// Elsewhere the index runs without a ballast (the server is built for
// Linux): a full disk stops it as it stops Pebble.
func freeBytes(string) (int64, error) { return 0, errors.ErrUnsupported }
func reserveFile(string, int64) error { return errors.ErrUnsupported }

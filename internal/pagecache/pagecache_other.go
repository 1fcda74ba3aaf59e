//go:build !linux

package pagecache

import "errors"

// Resident needs mincore(2) on Linux; elsewhere it fails with
// errors.ErrUnsupported.
func Resident(string) (resident, total int, err error) { return 0, 0, errors.ErrUnsupported }

// Droppable needs Linux; elsewhere it fails with errors.ErrUnsupported.
func Droppable(string) (bool, error) { return false, errors.ErrUnsupported }

//go:build unix && !linux

package uring

import "errors"

// ring is io_uring, which only Linux has; elsewhere every Reader uses pread.
type ring struct{}

func newRing(int) (*ring, error) { return nil, errors.ErrUnsupported }

func (*ring) run(int, []Read) error { return errors.ErrUnsupported }

func (*ring) close() error { return nil }

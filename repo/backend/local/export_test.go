package local

import "github.com/holdfast-backup/holdfast/repo/backend"

// SetCrashHook installs the test hook that runs between writing the
// temporary file and renaming it.
func (b *Backend) SetCrashHook(fn func(name backend.Name) error) { b.testHookCrash = fn }

// WrapErr exposes the error mapping.
func (b *Backend) WrapErr(op, name string, err error) error { return b.wrapErr(op, name, err) }

// Root returns the absolute directory.
func (b *Backend) Root() string { return b.root }

// KeepCache makes Put leave what it wrote in the page cache.
func (b *Backend) KeepCache() { b.keepCache = true }

// Package tmpfs mounts small tmpfs file systems for tests that need a
// disk of their own: one to fill up (ENOSPC) or to take away under a
// running store. Mounting needs the right to (root, as on the project's
// machines and CI); without it a test is skipped with a SKIP line that
// says why.
package tmpfs

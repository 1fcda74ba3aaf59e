package client

import "golang.org/x/sys/unix"

// oNoAtime opens a file without updating its atime, where the caller owns
// it (or has CAP_FOWNER); otherwise open fails with EPERM and the caller
// opens without it.
const oNoAtime = unix.O_NOATIME

// The lstat fields whose types differ between systems, as the tree
// records them.
func statMode(st *unix.Stat_t) uint32 { return st.Mode }
func statDev(st *unix.Stat_t) uint64  { return st.Dev }
func statRdev(st *unix.Stat_t) uint64 { return st.Rdev }

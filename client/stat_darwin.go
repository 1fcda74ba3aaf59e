package client

import "golang.org/x/sys/unix"

// oNoAtime: macOS has no O_NOATIME; reads may move atimes there.
const oNoAtime = 0

// The lstat fields whose types differ between systems, as the tree
// records them. dev_t is a signed 32-bit number on macOS: keep its bits.
func statMode(st *unix.Stat_t) uint32 { return uint32(st.Mode) }
func statDev(st *unix.Stat_t) uint64  { return uint64(uint32(st.Dev)) }
func statRdev(st *unix.Stat_t) uint64 { return uint64(uint32(st.Rdev)) }

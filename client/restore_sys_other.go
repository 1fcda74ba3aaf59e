//go:build !linux

package client

import (
	"errors"
	"os"

	"github.com/holdfast-backup/holdfast/format/tree"
)

// Restore into a directory needs Linux system calls (mknodat, xattrs,
// utimensat, SEEK_DATA); elsewhere these fail with errors.ErrUnsupported.

const oDirectory = 0

func sysFutimens(*os.File, int64, int64) error                     { return errors.ErrUnsupported }
func sysLutimensAt(*os.File, string, int64, int64) error           { return errors.ErrUnsupported }
func sysMknodAt(*os.File, string, tree.Type, uint32, uint32) error { return errors.ErrUnsupported }
func sysFsetxattr(*os.File, string, []byte) error                  { return errors.ErrUnsupported }
func sysLsetxattrAt(*os.File, string, string, []byte) error        { return errors.ErrUnsupported }
func sysCreateAt(*os.File, string) (*os.File, error)               { return nil, errors.ErrUnsupported }
func sysFchmod(f *os.File, mode uint32) error                      { return f.Chmod(osMode(mode)) }
func sysNextData(_ *os.File, off int64) (int64, error)             { return off, nil }
func sysNextHole(f *os.File, _ int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
func sysStartWriteback(*os.File, int64, int64)    {}
func sysDropWritten(*os.File, int64, int64) error { return nil }
func statNlink(os.FileInfo) uint64                { return 1 }
func ownerOf(os.FileInfo) rsOwner                 { return rsOwner{} }
func isPermission(err error) bool                 { return errors.Is(err, os.ErrPermission) }
func isUnsupported(err error) bool                { return errors.Is(err, errors.ErrUnsupported) }

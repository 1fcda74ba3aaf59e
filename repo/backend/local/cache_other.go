//go:build !linux

package local

import "os"

// dropCache does nothing here: the page cache keeps what Put wrote.
func dropCache(*os.File) {}

// dropRead does nothing here: the page cache keeps what Get read.
func dropRead(int, int64, int64) {}

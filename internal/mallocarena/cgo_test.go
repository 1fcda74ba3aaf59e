//go:build cgo && linux

package mallocarena

const cgoLinux = true

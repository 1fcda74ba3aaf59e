package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// MarkerName is the file that says which store of a server a directory is.
// The engine writes it when it first uses the store (or an operator adopts
// a replacement disk) and checks it at every open, so that an empty mount
// point, left by a disk that is not mounted, is not taken for the store.
// A dot name: never an object name, never listed.
const MarkerName = ".holdfast-store"

// maxMarkerSize bounds what Marker reads: the marker is a few bytes.
const maxMarkerSize = 4 << 10

type marker struct {
	Store *uint16 `json:"holdfast_store"`
}

// Marker reads the store's marker and returns the store ID it names; ok is
// false when there is none. A marker that does not decode is an error.
func (b *Backend) Marker() (id uint16, ok bool, err error) {
	if err := b.checkRoot("read", MarkerName); err != nil {
		return 0, false, err
	}
	f, err := os.Open(filepath.Join(b.root, MarkerName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, b.wrapErr("read", MarkerName, err)
	}
	defer f.Close()
	raw := make([]byte, maxMarkerSize+1)
	n, _ := f.Read(raw)
	var m marker
	if n > maxMarkerSize || json.Unmarshal(raw[:n], &m) != nil || m.Store == nil {
		return 0, false, fmt.Errorf("local: read %s: does not decode (want {\"holdfast_store\": ID})", MarkerName)
	}
	return *m.Store, true, nil
}

// Mark writes the marker naming store id, atomically and durably (the way
// Put writes objects).
func (b *Backend) Mark(id uint16) error {
	if err := b.checkRoot("write", MarkerName); err != nil {
		return err
	}
	body, err := json.Marshal(marker{Store: &id})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(b.root, tempPrefix+"*")
	if err != nil {
		return b.wrapErr("write", MarkerName, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(body, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(b.root, MarkerName))
	}
	if err != nil {
		os.Remove(tmp)
		return b.wrapErr("write", MarkerName, err)
	}
	if err := syncDir(b.root); err != nil {
		return b.wrapErr("write", MarkerName, err)
	}
	return nil
}

// Empty reports whether the directory holds nothing but dot files and a
// file system's lost+found: no object, nor any directory of one.
func (b *Backend) Empty() (bool, error) {
	if err := b.checkRoot("list", `""`); err != nil {
		return false, err
	}
	entries, err := os.ReadDir(b.root)
	if err != nil {
		return false, b.wrapErr("list", `""`, err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && e.Name() != "lost+found" {
			return false, nil
		}
	}
	return true, nil
}

// SetUnavailable makes the store unavailable, saying why: every operation
// fails with [backend.ErrUnavailable] (reads of objects also with
// ErrNotExist) until it is called with "". The engine calls it for a
// directory that is not the store it expects.
func (b *Backend) SetUnavailable(why string) {
	if why == "" {
		b.away.Store(nil)
		return
	}
	b.away.Store(&why)
}

// unavailable returns the error of a store made unavailable, or nil.
func (b *Backend) unavailable(op, name string) error {
	why := b.away.Load()
	if why == nil {
		return nil
	}
	return fmt.Errorf("local: %s %s: %w (%s)", op, name, backend.ErrUnavailable, *why)
}

// readUnavailable is unavailable for Get and Stat, whose callers also see
// the object as absent (see lookupErr).
func (b *Backend) readUnavailable(op, name string) error {
	if err := b.unavailable(op, name); err != nil {
		return fmt.Errorf("%w (%w)", err, backend.ErrNotExist)
	}
	return nil
}

// Available returns nil when the store can be used, else an error matching
// backend.ErrUnavailable that says why (directory gone or on another
// device, or made unavailable by the engine). It costs one stat.
func (b *Backend) Available() error { return b.checkRoot("check", "store") }

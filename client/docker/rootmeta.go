package docker

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// rootMeta is the owner and mode of a volume's root directory. A snapshot
// whose root is a directory stores only what it holds (SPEC.md §12.7), so
// a docker-volume snapshot keeps these in labels: a database refuses a
// data directory of the wrong owner or mode.
type rootMeta struct {
	uid, gid uint32
	mode     fs.FileMode // permission, setuid, setgid and sticky bits
	mtime    time.Time   // zero when unknown
	ok       bool
}

// Label keys of a docker-volume snapshot.
const (
	labelDriver  = "driver"
	labelRootUID = "root-uid"
	labelRootGID = "root-gid"
	labelRootMod = "root-mode"
)

func metaOf(fi fs.FileInfo) rootMeta {
	m := rootMeta{mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), ok: true}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		m.uid, m.gid = st.Uid, st.Gid
	}
	return m
}

func (m rootMeta) labels() []snapshot.Label {
	return []snapshot.Label{
		{Key: labelRootUID, Value: strconv.FormatUint(uint64(m.uid), 10)},
		{Key: labelRootGID, Value: strconv.FormatUint(uint64(m.gid), 10)},
		{Key: labelRootMod, Value: fmt.Sprintf("%04o", unixMode(m.mode))},
	}
}

// SetRoot gives a restored volume's root directory the metadata the
// snapshot holds for it: entry's, when a mount of a container snapshot was
// restored (entry is that mount), else the labels of a docker-volume
// snapshot. Other snapshots hold none and leave dir as it is.
func SetRoot(dir string, src snapshot.Source, entry *tree.Entry) error {
	switch {
	case entry != nil:
		return rootFromEntry(entry).apply(dir)
	case src.Kind == snapshot.KindDockerVolume:
		m, _ := rootFromLabels(src.Labels)
		return m.apply(dir)
	}
	return nil
}

// rootFromLabels reads the root owner and mode a docker-volume snapshot
// recorded; ok is false when the labels are absent or malformed.
func rootFromLabels(labels []snapshot.Label) (m rootMeta, ok bool) {
	get := func(k string) (uint64, bool) {
		for _, l := range labels {
			if l.Key == k {
				base := 10
				if k == labelRootMod {
					base = 8
				}
				v, err := strconv.ParseUint(l.Value, base, 32)
				return v, err == nil
			}
		}
		return 0, false
	}
	uid, ok1 := get(labelRootUID)
	gid, ok2 := get(labelRootGID)
	mode, ok3 := get(labelRootMod)
	if !ok1 || !ok2 || !ok3 || mode > 0o7777 {
		return rootMeta{}, false
	}
	return rootMeta{uid: uint32(uid), gid: uint32(gid), mode: fromUnixMode(uint32(mode)), ok: true}, true
}

// rootFromEntry takes the root metadata from a snapshot entry (a
// container's mount restored as a volume's root).
func rootFromEntry(e *tree.Entry) rootMeta {
	return rootMeta{uid: uint32(e.UID), gid: uint32(e.GID), mode: fromUnixMode(uint32(e.Mode)), mtime: time.Unix(0, e.MTime), ok: true}
}

// apply sets the owner (when running as root), the mode and, if known, the
// mtime of dir.
func (m rootMeta) apply(dir string) error {
	if !m.ok {
		return nil
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(dir, int(m.uid), int(m.gid)); err != nil {
			return fmt.Errorf("volume root owner: %w", unwrapPath(err))
		}
	}
	if err := os.Chmod(dir, m.mode); err != nil {
		return fmt.Errorf("volume root mode: %w", unwrapPath(err))
	}
	if !m.mtime.IsZero() {
		if err := os.Chtimes(dir, time.Time{}, m.mtime); err != nil {
			return fmt.Errorf("volume root mtime: %w", unwrapPath(err))
		}
	}
	return nil
}

func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

func fromUnixMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func sortLabels(ls []snapshot.Label) {
	slices.SortFunc(ls, func(a, b snapshot.Label) int { return strings.Compare(a.Key, b.Key) })
}

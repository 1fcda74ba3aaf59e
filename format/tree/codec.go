package tree

import (
	"math"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// maxXattrList bounds the xattr names of one entry like Linux XATTR_LIST_MAX:
// the sum over all names of (length + 1) is at most 64 KiB. It also bounds
// what a decoder allocates for the xattr slice.
const maxXattrList = 64 << 10

// appendEntry appends the body of e (without its length prefix). The field
// order is fixed and every field is always present (SPEC: tree entry body).
func appendEntry(b []byte, e *Entry) []byte {
	b = wire.AppendString(b, e.Name)
	b = append(b, byte(e.Type))
	b = wire.AppendUvarint(b, uint64(e.Mode))
	b = wire.AppendUvarint(b, uint64(e.UID))
	b = wire.AppendUvarint(b, uint64(e.GID))
	b = wire.AppendString(b, e.User)
	b = wire.AppendString(b, e.Group)
	b = wire.AppendVarint(b, e.MTime)
	b = wire.AppendVarint(b, e.ATime)
	b = wire.AppendVarint(b, e.CTime)
	b = wire.AppendUvarint(b, e.Size)
	b = wire.AppendUvarint(b, e.Inode)
	b = wire.AppendUvarint(b, e.Device)
	b = wire.AppendUvarint(b, uint64(e.Links))
	b = wire.AppendUvarint(b, e.HardlinkGroup)
	b = wire.AppendUvarint(b, uint64(e.RDevMajor))
	b = wire.AppendUvarint(b, uint64(e.RDevMinor))
	b = wire.AppendString(b, e.LinkTarget)
	b = wire.AppendUvarint(b, uint64(len(e.Xattrs)))
	for _, x := range e.Xattrs {
		b = wire.AppendString(b, x.Name)
		b = wire.AppendBytes(b, x.Value)
	}
	b = AppendExtents(b, e.Content)
	b = AppendExtents(b, e.Subtree)
	return b
}

// EncodedSize returns the length of e's encoded body, which the encoder
// refuses above MaxEntrySize; a writer calls it to leave out one entry that
// is too large instead of failing its whole tree.
func EncodedSize(e *Entry) int { return len(appendEntry(nil, e)) }

// AppendExtents appends a count and then each extent as
// uvarint(Length<<1 | hole) followed, for a data extent, by its 32-byte ID.
// Package snapshot uses it for a snapshot's root.
func AppendExtents(b []byte, exts []Extent) []byte {
	b = wire.AppendUvarint(b, uint64(len(exts)))
	for _, x := range exts {
		if x.Hole {
			b = wire.AppendUvarint(b, x.Length<<1|1)
			continue
		}
		b = wire.AppendUvarint(b, x.Length<<1)
		b = append(b, x.ID[:]...)
	}
	return b
}

// ReadExtents reads what AppendExtents wrote from r; what names the list
// in errors ("root extents"). It checks only the encoding; the caller
// validates the extents (ValidateSubtree, Entry.Validate). For packages in
// format/ only (it takes the internal wire.Reader).
func ReadExtents(r *wire.Reader, what string) []Extent {
	n := readCount(r, what, 1)
	if n == 0 {
		return nil
	}
	// A data extent takes 33 bytes and holes cannot be adjacent, so the
	// input holds at most about Len/16 extents: allocate no more up front.
	exts := make([]Extent, 0, min(n, r.Len()/16+1))
	for range n {
		v := r.Uvarint("extent length")
		if r.Err() != nil {
			return nil
		}
		x := Extent{Length: v >> 1, Hole: v&1 == 1}
		if !x.Hole {
			x.ID = r.ID("extent chunk ID")
		}
		exts = append(exts, x)
	}
	return exts
}

// readCount reads an element count and fails unless the rest of the input
// can hold that many elements of at least minSize bytes. (wire.Reader.Count
// does the same but builds its field name per call; entries are decoded by
// the million, so this path allocates nothing.)
func readCount(r *wire.Reader, what string, minSize int) int {
	n := r.Uvarint(what)
	if r.Err() != nil {
		return 0
	}
	if n > uint64(r.Len()/minSize) {
		r.Failf("%s %d does not fit in %d remaining bytes", what, n, r.Len())
		return 0
	}
	return int(n)
}

// readBytes reads a length of at most max, then that many bytes (aliasing
// the input), without per-call allocation.
func readBytes(r *wire.Reader, what string, max int) []byte {
	n := r.UvarintMax(what, uint64(max))
	return r.Bytes(int(n), what)
}

// strCache turns the bytes of repeated strings (user and group names, which
// are nearly always the same from entry to entry) into one shared string.
type strCache struct{ user, group string }

func reuse(prev *string, b []byte) string {
	if string(b) != *prev { // no allocation: the compiler compares in place
		*prev = string(b)
	}
	return *prev
}

// decodeEntry decodes one entry body and validates it. Errors are corrupt.
func decodeEntry(body []byte, sc *strCache) (*Entry, error) {
	r := wire.NewReader("tree entry", body)
	e := &Entry{}
	e.Name = string(readBytes(r, "name", format.MaxNameLen))
	e.Type = Type(r.Byte("type"))
	e.Mode = uint32(r.UvarintMax("mode", MaxMode))
	e.UID = uint32(r.UvarintMax("uid", math.MaxUint32))
	e.GID = uint32(r.UvarintMax("gid", math.MaxUint32))
	e.User = reuse(&sc.user, readBytes(r, "user", format.MaxNameLen))
	e.Group = reuse(&sc.group, readBytes(r, "group", format.MaxNameLen))
	e.MTime = r.Varint("mtime")
	e.ATime = r.Varint("atime")
	e.CTime = r.Varint("ctime")
	e.Size = r.Uvarint("size")
	e.Inode = r.Uvarint("inode")
	e.Device = r.Uvarint("device")
	e.Links = uint32(r.UvarintMax("links", math.MaxUint32))
	e.HardlinkGroup = r.Uvarint("hardlink group")
	e.RDevMajor = uint32(r.UvarintMax("rdev major", math.MaxUint32))
	e.RDevMinor = uint32(r.UvarintMax("rdev minor", math.MaxUint32))
	e.LinkTarget = string(readBytes(r, "link target", MaxLinkTarget))
	if n := readCount(r, "xattr count", 3); n > 0 {
		list := 0
		e.Xattrs = make([]Xattr, 0, min(n, maxXattrList/2))
		for range n {
			name := string(readBytes(r, "xattr name", MaxXattrName))
			// Copy: the value would otherwise alias the decoder's reused buffer.
			value := append([]byte{}, readBytes(r, "xattr value", MaxXattrValue)...)
			if list += len(name) + 1; list > maxXattrList {
				r.Failf("xattr names exceed %d bytes", maxXattrList)
			}
			if r.Err() != nil {
				break
			}
			e.Xattrs = append(e.Xattrs, Xattr{Name: name, Value: value})
		}
	}
	e.Content = ReadExtents(r, "content extents")
	e.Subtree = ReadExtents(r, "subtree extents")
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, format.Corruptf("tree entry: %v", err)
	}
	return e, nil
}

package tree

import (
	"errors"
	"fmt"
	"strings"

	"github.com/holdfast-backup/holdfast/format"
)

// Limits of a tree entry. They are part of the format: an encoder refuses
// anything larger and a decoder reports it as corruption.
const (
	// MaxEntrySize bounds one encoded entry body. It bounds what a decoder
	// buffers per entry, and with it the number of extents of one file
	// (about 466,000 data extents, 455 GiB at a 1 MiB average chunk).
	MaxEntrySize = 16 << 20

	// MaxLinkTarget bounds a symlink target (Linux PATH_MAX).
	MaxLinkTarget = 4096

	// MaxXattrName bounds an extended attribute name (Linux XATTR_NAME_MAX).
	MaxXattrName = 255

	// MaxXattrValue bounds an extended attribute value (Linux XATTR_SIZE_MAX).
	MaxXattrValue = 64 << 10

	// MaxMode is the largest mode: permission bits plus setuid, setgid and
	// sticky. The file type is in Entry.Type, never in Mode.
	MaxMode = 0o7777

	// MaxHoleLength is the largest hole: its length shifted left by one must
	// fit in 64 bits (see the extent encoding in doc.go).
	MaxHoleLength = 1<<63 - 1
)

// Type is the kind of a directory entry.
type Type uint8

// Entry types. Zero is invalid so that a forgotten field never decodes as a
// regular file.
const (
	File     Type = 1
	Dir      Type = 2
	Symlink  Type = 3
	CharDev  Type = 4
	BlockDev Type = 5
	FIFO     Type = 6
	Socket   Type = 7
)

var typeNames = [...]string{"invalid", "file", "dir", "symlink", "chardev", "blockdev", "fifo", "socket"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is one of the defined types.
func (t Type) Valid() bool { return t >= File && t <= Socket }

// IsDevice reports whether t is a character or block device.
func (t Type) IsDevice() bool { return t == CharDev || t == BlockDev }

// Extent is one piece of a file's content or of a subtree's encoding: either
// a data chunk (ID and its plaintext Length) or, in file content only, a hole
// of Length zero bytes that restore leaves sparse.
type Extent struct {
	ID     format.ID // zero for a hole
	Length uint64
	Hole   bool
}

// Xattr is one extended attribute.
type Xattr struct {
	Name  string
	Value []byte
}

// Entry is one name in a directory listing. Which fields may be set depends on
// Type; Validate states the rules.
type Entry struct {
	Name string
	Type Type
	Mode uint32 // permission, setuid, setgid and sticky bits only

	UID, GID    uint32
	User, Group string // names at backup time; may be empty

	MTime, ATime, CTime int64 // unix nanoseconds

	Size uint64 // logical size of a file, holes included; 0 for other types

	// Inode, Device and Links are as stat reported them. HardlinkGroup is
	// assigned by the client: entries of one snapshot with the same non-zero
	// group are links to one file (0 = not a hardlink).
	Inode, Device uint64
	Links         uint32
	HardlinkGroup uint64

	RDevMajor, RDevMinor uint32 // devices only

	LinkTarget string  // symlinks only
	Xattrs     []Xattr // sorted by name, unique

	Content []Extent // files only: in file order, summing to Size
	Subtree []Extent // dirs only: the chunks of the child directory's encoded tree
}

// CheckName returns an error unless name is usable as one path component:
// non-empty, not "." or "..", no '/' or NUL, at most format.MaxNameLen bytes.
// A decoded tree never holds a name that fails this check, so restore can
// join names to its target without escaping it.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name %q is not allowed", name)
	case len(name) > format.MaxNameLen:
		return fmt.Errorf("name of %d bytes exceeds %d", len(name), format.MaxNameLen)
	case strings.IndexByte(name, '/') >= 0:
		return errors.New("name contains '/'")
	case strings.IndexByte(name, 0) >= 0:
		return errors.New("name contains NUL")
	}
	return nil
}

// Validate returns an error describing the first rule e breaks. The encoder
// refuses such an entry and the decoder reports it as corruption.
func (e *Entry) Validate() error {
	if err := CheckName(e.Name); err != nil {
		return err
	}
	if !e.Type.Valid() {
		return fmt.Errorf("%q: invalid type %d", e.Name, uint8(e.Type))
	}
	if err := e.validateFields(); err != nil {
		return fmt.Errorf("%q (%s): %w", e.Name, e.Type, err)
	}
	return nil
}

func (e *Entry) validateFields() error {
	if e.Mode > MaxMode {
		return fmt.Errorf("mode %#o has bits outside %#o", e.Mode, MaxMode)
	}
	if len(e.User) > format.MaxNameLen || len(e.Group) > format.MaxNameLen {
		return fmt.Errorf("user or group name exceeds %d bytes", format.MaxNameLen)
	}
	if e.Type == Symlink {
		if e.LinkTarget == "" || len(e.LinkTarget) > MaxLinkTarget {
			return fmt.Errorf("symlink target of %d bytes (want 1..%d)", len(e.LinkTarget), MaxLinkTarget)
		}
		if strings.IndexByte(e.LinkTarget, 0) >= 0 {
			return errors.New("symlink target contains NUL")
		}
	} else if e.LinkTarget != "" {
		return errors.New("link target on a non-symlink")
	}
	if !e.Type.IsDevice() && (e.RDevMajor != 0 || e.RDevMinor != 0) {
		return errors.New("device numbers on a non-device")
	}
	if e.HardlinkGroup != 0 && e.Type == Dir {
		return errors.New("hardlink group on a directory")
	}
	if err := checkXattrs(e.Xattrs); err != nil {
		return err
	}
	if e.Type == File {
		if err := checkContent(e.Content, e.Size); err != nil {
			return err
		}
	} else {
		if len(e.Content) != 0 {
			return errors.New("content extents on a non-file")
		}
		if e.Size != 0 {
			return fmt.Errorf("size %d on a non-file", e.Size)
		}
	}
	if e.Type == Dir {
		if err := ValidateSubtree(e.Subtree); err != nil {
			return err
		}
	} else if len(e.Subtree) != 0 {
		return errors.New("subtree extents on a non-directory")
	}
	return nil
}

func checkXattrs(xs []Xattr) error {
	list := 0
	for i, x := range xs {
		if list += len(x.Name) + 1; list > maxXattrList {
			return fmt.Errorf("xattr names exceed %d bytes in all", maxXattrList)
		}
		if x.Name == "" || len(x.Name) > MaxXattrName || strings.IndexByte(x.Name, 0) >= 0 {
			return fmt.Errorf("xattr %d: bad name of %d bytes", i, len(x.Name))
		}
		if len(x.Value) > MaxXattrValue {
			return fmt.Errorf("xattr %q: value of %d bytes exceeds %d", x.Name, len(x.Value), MaxXattrValue)
		}
		if i > 0 && xs[i-1].Name >= x.Name {
			return fmt.Errorf("xattr %q: names not strictly sorted", x.Name)
		}
	}
	return nil
}

// checkContent checks a file's extents: no empty extent, data extents no
// longer than a chunk, no two holes in a row (holes are maximal, so a given
// file has one encoding), and lengths summing to size without overflow.
func checkContent(exts []Extent, size uint64) error {
	var sum uint64
	for i, x := range exts {
		if err := checkExtent(x, true); err != nil {
			return fmt.Errorf("content extent %d: %w", i, err)
		}
		if x.Hole && i > 0 && exts[i-1].Hole {
			return fmt.Errorf("content extent %d: adjacent holes", i)
		}
		if sum+x.Length < sum {
			return fmt.Errorf("content extent %d: total length overflows", i)
		}
		sum += x.Length
	}
	if sum != size {
		return fmt.Errorf("content extents sum to %d, size is %d", sum, size)
	}
	return nil
}

// ValidateSubtree checks the extents that locate an encoded tree (a
// directory's Subtree, a snapshot's Root): at least one, no holes, each
// 1..format.MaxChunkSize bytes.
func ValidateSubtree(exts []Extent) error {
	if len(exts) == 0 {
		return errors.New("no subtree extents")
	}
	for i, x := range exts {
		if x.Hole {
			return fmt.Errorf("subtree extent %d: hole", i)
		}
		if err := checkExtent(x, false); err != nil {
			return fmt.Errorf("subtree extent %d: %w", i, err)
		}
	}
	return nil
}

func checkExtent(x Extent, holesOK bool) error {
	switch {
	case x.Length == 0:
		return errors.New("zero length")
	case x.Hole && !holesOK:
		return errors.New("hole not allowed")
	case x.Hole && !x.ID.IsZero():
		return errors.New("hole with a chunk ID")
	case x.Hole && x.Length > MaxHoleLength:
		return fmt.Errorf("hole length %d exceeds %d", x.Length, uint64(MaxHoleLength))
	case !x.Hole && x.Length > format.MaxChunkSize:
		return fmt.Errorf("chunk length %d exceeds %d", x.Length, format.MaxChunkSize)
	}
	return nil
}

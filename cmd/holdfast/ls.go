package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/format/tree"
)

func init() { register(newLsCommand) }

// lsJSON is one line of `ls --json`.
type lsJSON struct {
	Path       string `json:"path"`
	Type       string `json:"type"` // file, dir, symlink, chardev, blockdev, fifo, socket
	Mode       string `json:"mode"` // octal permission bits with setuid, setgid, sticky
	Size       uint64 `json:"size"`
	MTime      string `json:"mtime"` // RFC 3339, nanoseconds
	UID        uint32 `json:"uid"`
	GID        uint32 `json:"gid"`
	User       string `json:"user"`
	Group      string `json:"group"`
	LinkTarget string `json:"link_target,omitempty"`
	Hardlink   uint64 `json:"hardlink_group,omitempty"`
	DevMajor   uint32 `json:"dev_major,omitempty"`
	DevMinor   uint32 `json:"dev_minor,omitempty"`
}

func newLsCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT [PATH] [--json]",
		Short: "List the files of a snapshot",
		Long: `List SNAPSHOT (a full ID, a unique prefix of at least 8 hex digits, or
latest) recursively, or only PATH of it (a directory and everything below
it, or a single entry). Paths start with "/" at the snapshot root; paths in
a snapshot never follow symlinks.

The listing is like "ls -l": type and mode, owner and group (names as
recorded at backup time, else numbers), size, modification time, path, and
"-> target" for symlinks.

With --json, one JSON object per line: path, type (file, dir, symlink,
chardev, blockdev, fifo, socket), mode (octal string), size, mtime (RFC
3339), uid, gid, user, group, and when they apply link_target,
hardlink_group, dev_major and dev_minor.`,
		Example: `  holdfast ls latest
  holdfast ls 3f2a9c1e /etc/nginx
  holdfast ls latest --json | jq -r 'select(.size > 1e9) | .path'`,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := g.open(ctx)
			if err != nil {
				return err
			}
			snap, err := r.Resolve(ctx, args[0])
			if err != nil {
				return err
			}
			path := ""
			if len(args) == 2 {
				path = args[1]
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(w)
			err = r.Ls(ctx, snap, path, func(p string, e *tree.Entry) error {
				if asJSON {
					return enc.Encode(lsJSON{
						Path: p, Type: lsTypeName(e.Type), Mode: fmt.Sprintf("%04o", e.Mode), Size: e.Size,
						MTime: time.Unix(0, e.MTime).UTC().Format(time.RFC3339Nano),
						UID:   e.UID, GID: e.GID, User: e.User, Group: e.Group,
						LinkTarget: e.LinkTarget, Hardlink: e.HardlinkGroup, DevMajor: e.RDevMajor, DevMinor: e.RDevMinor,
					})
				}
				line := fmt.Sprintf("%s %8s %8s %12d %s %s", lsModeString(e.Type, e.Mode),
					lsOwner(e.User, e.UID), lsOwner(e.Group, e.GID), e.Size,
					time.Unix(0, e.MTime).Local().Format("2006-01-02 15:04:05"), p)
				if e.Type == tree.Symlink {
					line += " -> " + e.LinkTarget
				}
				_, err := fmt.Fprintln(w, line)
				return err
			})
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per entry")
	return cmd
}

func lsTypeName(t tree.Type) string {
	switch t {
	case tree.File:
		return "file"
	case tree.Dir:
		return "dir"
	case tree.Symlink:
		return "symlink"
	case tree.CharDev:
		return "chardev"
	case tree.BlockDev:
		return "blockdev"
	case tree.FIFO:
		return "fifo"
	case tree.Socket:
		return "socket"
	}
	return "unknown"
}

func lsOwner(name string, id uint32) string {
	if name != "" {
		return name
	}
	return strconv.FormatUint(uint64(id), 10)
}

// lsModeString renders type and mode as ls -l does ("drwxr-sr-t").
func lsModeString(t tree.Type, m uint32) string {
	b := []byte("?rwxrwxrwx")
	b[0] = map[tree.Type]byte{tree.File: '-', tree.Dir: 'd', tree.Symlink: 'l', tree.CharDev: 'c',
		tree.BlockDev: 'b', tree.FIFO: 'p', tree.Socket: 's'}[t]
	if b[0] == 0 {
		b[0] = '?'
	}
	for i := range 9 {
		if m&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	special := func(pos int, bit uint32, set, unset byte) {
		if m&bit != 0 {
			if b[pos] == '-' {
				b[pos] = unset
			} else {
				b[pos] = set
			}
		}
	}
	special(3, 0o4000, 's', 'S')
	special(6, 0o2000, 's', 'S')
	special(9, 0o1000, 't', 'T')
	return string(b)
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/client/docker"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

const dockerRestoreHelp = `
--docker-volume NAME restores into the Docker volume NAME instead of a
directory: it is created (local driver, labelled holdfast.snapshot=ID) when
missing; an existing volume must be empty, or one an interrupted restore
of the same snapshot created. A docker-volume snapshot also gets its root
directory's owner and mode back. From a docker-container snapshot, name
one mount with --include (e.g. --include /mounts/var/lib/mysql; not needed
when the container had a single mount): its content becomes the volume's.`

// errFound stops an Ls after its first entry.
var errFound = errors.New("found")

// prepareVolumeRestore creates or checks the volume, points opts at its
// mount point and, for one mount of a docker-container snapshot, makes
// that mount the root to restore. The returned function, called after a
// successful restore, sets the volume root's metadata.
func prepareVolumeRestore(ctx context.Context, r *client.Repository, snap *client.Snapshot, opts *client.RestoreOptions, name string) (func() error, error) {
	var mountEntry *tree.Entry
	if snap.Header.Source.Kind == snapshot.KindDockerContainer {
		e, err := containerMount(ctx, r, *snap, opts.Include)
		if err != nil {
			return nil, err
		}
		h := *snap.Header
		h.Root = e.Subtree
		snap.Header = &h
		opts.Include = nil
		mountEntry = e
	}
	dc, err := docker.New(ctx)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	v, err := dc.PrepareRestore(ctx, name, snap.ID)
	if err != nil {
		return nil, err
	}
	opts.Target = v.Mountpoint
	src := snap.Header.Source
	return func() error { return docker.SetRoot(v.Mountpoint, src, mountEntry) }, nil
}

// containerMount finds the one mount of a docker-container snapshot that
// include names (or its only mount) and returns its entry.
func containerMount(ctx context.Context, r *client.Repository, snap client.Snapshot, include []string) (*tree.Entry, error) {
	var want string
	switch len(include) {
	case 0:
		mounts, err := snapshotMounts(ctx, r, snap)
		if err != nil {
			return nil, err
		}
		if len(mounts) != 1 {
			return nil, usagef("snapshot %s is of a container with %d mounts: name one with --include (%s)",
				snap.ID.Short(), len(mounts), strings.Join(mounts, ", "))
		}
		want = mounts[0]
	case 1:
		want = include[0]
	default:
		return nil, usagef("a volume takes one mount of a container snapshot: give one --include")
	}
	if strings.Trim(want, "/.") == "" {
		return nil, usagef("--include %q: name a mount, not the snapshot's root", want)
	}
	var found *tree.Entry
	err := r.Ls(ctx, snap, want, func(_ string, e *tree.Entry) error { found = e; return errFound })
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	if found == nil || found.Type != tree.Dir {
		return nil, fmt.Errorf("%s in snapshot %s is not a directory: only a directory can become a volume", want, snap.ID.Short())
	}
	return found, nil
}

// snapshotMounts reads the mounts a container snapshot holds from its
// container.json.
func snapshotMounts(ctx context.Context, r *client.Repository, snap client.Snapshot) ([]string, error) {
	var buf bytes.Buffer
	if err := r.Dump(ctx, snap, "/"+docker.InspectFile, &buf); err != nil {
		return nil, err
	}
	return docker.MountPaths(buf.Bytes())
}

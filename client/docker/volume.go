package docker

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// Volume resolves the named volume to its mount point and returns it as a
// backup target of kind docker-volume; Pause lists the running containers
// that mount it (--pause pauses them all, SPEC.md §12.7.2).
func (c *Client) Volume(ctx context.Context, name string) (*Target, error) {
	v, err := c.api.VolumeInspect(ctx, name)
	if err != nil {
		return nil, apiErr("volume "+quote(name), err)
	}
	users, err := c.volumeUsers(ctx, v.Name)
	if err != nil {
		return nil, err
	}
	// The local driver with a device option (NFS, a block device) mounts
	// the volume only while a container uses it: backing up the bare
	// mount point would save an empty directory.
	if v.Options["device"] != "" && len(users) == 0 {
		return nil, fmt.Errorf("volume %s: %w: it is mounted (device %s) only while a container uses it; start one and retry",
			quote(name), ErrUnsupported, quote(v.Options["type"]))
	}
	root, err := statRoot(v.Mountpoint)
	if err != nil {
		return nil, fmt.Errorf("volume %s: %w", quote(name), err)
	}
	labels := append([]snapshot.Label{{Key: "driver", Value: v.Driver}}, root.labels()...)
	sortLabels(labels)
	return &Target{
		Paths:  []string{v.Mountpoint},
		Source: snapshot.Source{Kind: snapshot.KindDockerVolume, Name: v.Name, Labels: labels},
		Pause:  users,
		c:      c,
	}, nil
}

// volumeUsers lists the running, unpaused containers that mount volume.
func (c *Client) volumeUsers(ctx context.Context, volume string) ([]Container, error) {
	list, err := c.api.ContainerList(ctx, container.ListOptions{
		Filters: filters.NewArgs(filters.Arg("volume", volume), filters.Arg("status", "running")),
	})
	if err != nil {
		return nil, apiErr("list containers using volume "+quote(volume), err)
	}
	out := make([]Container, 0, len(list))
	for _, s := range list {
		name := s.ID[:12]
		if len(s.Names) > 0 {
			name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, Container{ID: s.ID, Name: name})
	}
	return out, nil
}

// statRoot checks that a mount point is a directory this process can see.
func statRoot(mountpoint string) (rootMeta, error) {
	fi, err := os.Lstat(mountpoint)
	if err != nil {
		if os.IsNotExist(err) {
			return rootMeta{}, fmt.Errorf("%w: its mount point %s is not visible here (in a container, mount /var/lib/docker/volumes at the same path)",
				ErrUnsupported, mountpoint)
		}
		return rootMeta{}, fmt.Errorf("mount point: %w", unwrapPath(err))
	}
	if !fi.IsDir() {
		return rootMeta{}, fmt.Errorf("%w: its mount point %s is not a directory", ErrUnsupported, mountpoint)
	}
	return metaOf(fi), nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// unwrapPath drops the path of an *os.PathError, which the caller names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

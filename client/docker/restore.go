package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/volume"

	"github.com/holdfast-backup/holdfast/format"
)

// LabelSnapshot is the Docker label of a volume created by a restore: the
// snapshot's full ID. A restore that was interrupted can be run again into
// the volume it created, which is no longer empty.
const LabelSnapshot = "holdfast.snapshot"

// RestoreVolume is a volume ready to receive a restore.
type RestoreVolume struct {
	Name       string
	Mountpoint string
	Created    bool // this call created it
}

// PrepareRestore returns the named volume to restore snapshot snap into,
// creating it (local driver, labelled with LabelSnapshot) when it does not
// exist. An existing volume is used only when it is empty or was created
// for the same snapshot; otherwise the error wraps ErrNotEmpty, and nothing
// in it is touched.
func (c *Client) PrepareRestore(ctx context.Context, name string, snap format.ID) (*RestoreVolume, error) {
	v, err := c.api.VolumeInspect(ctx, name)
	created := false
	switch {
	case cerrdefs.IsNotFound(err):
		v, err = c.api.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: map[string]string{LabelSnapshot: snap.String()}})
		if err != nil {
			return nil, apiErr("create volume "+quote(name), err)
		}
		created = true
	case err != nil:
		return nil, apiErr("volume "+quote(name), err)
	}
	rv := &RestoreVolume{Name: v.Name, Mountpoint: v.Mountpoint, Created: created}
	if err := c.checkRestoreTarget(v, snap); err != nil {
		if created {
			// Leave nothing behind for a restore that cannot start.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), engineTimeout)
			defer cancel()
			err = errors.Join(err, c.api.VolumeRemove(rctx, v.Name, false))
		}
		return nil, fmt.Errorf("volume %s: %w", quote(name), err)
	}
	return rv, nil
}

// checkRestoreTarget checks that the volume's data is visible here and
// that it is empty or a restore of the same snapshot.
func (c *Client) checkRestoreTarget(v volume.Volume, snap format.ID) error {
	if v.Options["device"] != "" {
		return fmt.Errorf("%w: it is mounted (device) only while a container uses it", ErrUnsupported)
	}
	if _, err := statRoot(v.Mountpoint); err != nil {
		return err
	}
	if v.Labels[LabelSnapshot] == snap.String() {
		return nil
	}
	empty, err := isEmptyDir(v.Mountpoint)
	if err != nil {
		return fmt.Errorf("mount point: %w", unwrapPath(err))
	}
	if !empty {
		return fmt.Errorf("%w: restore into a new volume name, or remove this one first", ErrNotEmpty)
	}
	return nil
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

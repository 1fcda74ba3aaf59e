package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// Paths of a docker-container snapshot (SPEC.md §12.7.2).
const (
	InspectFile = "container.json" // the inspect object, at the root
	MountsDir   = "mounts"         // each mount at mounts/<destination>
)

// Container inspects the named container and returns it as a backup
// target of kind docker-container: a staging directory with the inspect
// JSON and a placeholder per mount, each mount's source grafted onto its
// placeholder. The caller must Close the target to remove the staging
// directory. Pause holds the container when it runs and is not paused.
func (c *Client) Container(ctx context.Context, name string) (*Target, error) {
	info, raw, err := c.api.ContainerInspectWithRaw(ctx, name, false)
	if err != nil {
		return nil, apiErr("container "+quote(name), err)
	}
	cname := strings.TrimPrefix(info.Name, "/")
	mounts, err := dataMounts(info.Mounts)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", quote(cname), err)
	}
	t := &Target{Source: snapshot.Source{Kind: snapshot.KindDockerContainer, Name: cname, Labels: containerLabels(info)}, c: c}
	if info.State != nil && info.State.Running && !info.State.Paused {
		t.Pause = []Container{{ID: info.ID, Name: cname}}
	}
	if t.stage, err = os.MkdirTemp("", "holdfast-container-"); err != nil {
		return nil, fmt.Errorf("container %s: staging directory: %w", quote(cname), err)
	}
	if err := t.stageContainer(raw, mounts); err != nil {
		t.Close()
		return nil, fmt.Errorf("container %s: %w", quote(cname), err)
	}
	return t, nil
}

// containerLabels names the image and the container ID, so a listing of
// snapshots tells which container of that name it was.
func containerLabels(info container.InspectResponse) []snapshot.Label {
	ls := []snapshot.Label{{Key: "id", Value: info.ID}}
	if info.Config != nil && info.Config.Image != "" {
		ls = append(ls, snapshot.Label{Key: "image", Value: info.Config.Image})
	}
	sortLabels(ls)
	return ls
}

// dataMount is a mount with data on the host: its source and where the
// snapshot keeps it (below MountsDir, slash-separated, no leading slash).
type dataMount struct{ source, rel string }

// dataMounts keeps the volume and bind mounts, sorted by destination, and
// checks that each destination makes a path of valid entry names. tmpfs
// (and npipe, cluster) mounts have no data a host path holds.
func dataMounts(ms []container.MountPoint) ([]dataMount, error) {
	var out []dataMount
	for _, m := range ms {
		if m.Type != mount.TypeVolume && m.Type != mount.TypeBind {
			continue
		}
		dest := path.Clean(m.Destination)
		if !path.IsAbs(dest) || dest == "/" {
			return nil, fmt.Errorf("%w: mount destination %q", ErrUnsupported, m.Destination)
		}
		rel := dest[1:]
		for _, name := range strings.Split(rel, "/") {
			if tree.CheckName(name) != nil {
				return nil, fmt.Errorf("%w: mount destination %q", ErrUnsupported, m.Destination)
			}
		}
		if m.Source == "" || !filepath.IsAbs(m.Source) {
			return nil, fmt.Errorf("%w: mount %s has no host path", ErrUnsupported, dest)
		}
		out = append(out, dataMount{source: m.Source, rel: rel})
	}
	slices.SortFunc(out, func(a, b dataMount) int { return strings.Compare(a.rel, b.rel) })
	return out, nil
}

// stageContainer writes the inspect JSON and a placeholder per mount, and
// grafts each mount's source onto its placeholder. A mount nested in
// another (a volume on /app/data with a bind on /app) is reached through
// the outer mount's source, which must then hold its mount point (Docker
// creates it when the container starts).
func (t *Target) stageContainer(raw []byte, mounts []dataMount) error {
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "    "); err != nil {
		return fmt.Errorf("inspect JSON: %w", err)
	}
	pretty.WriteByte('\n')
	if err := os.WriteFile(filepath.Join(t.stage, InspectFile), pretty.Bytes(), 0o600); err != nil {
		return fmt.Errorf("staging: %w", unwrapPath(err))
	}
	if err := os.Mkdir(filepath.Join(t.stage, MountsDir), 0o755); err != nil {
		return fmt.Errorf("staging: %w", unwrapPath(err))
	}
	t.Paths = []string{t.stage}
	t.Grafts = map[string]string{}
	for i, m := range mounts {
		key := path.Join(MountsDir, m.rel)
		t.Grafts[key] = m.source
		if outer, below := enclosing(mounts[:i], m.rel); outer != nil {
			p := filepath.Join(outer.source, filepath.FromSlash(below))
			if _, err := os.Lstat(p); err != nil {
				return fmt.Errorf("%w: mount /%s lies inside mount /%s, whose source lacks its mount point", ErrUnsupported, m.rel, outer.rel)
			}
			continue
		}
		if _, err := os.Lstat(m.source); err != nil {
			return fmt.Errorf("%w: mount /%s: its source %s is not visible here (in a container, mount it at the same path)", ErrUnsupported, m.rel, m.source)
		}
		p := filepath.Join(t.stage, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("staging: %w", unwrapPath(err))
		}
		// The placeholder's type does not matter: the walk lstats the
		// graft target in its place.
		if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("staging: %w", unwrapPath(err))
		}
	}
	return nil
}

// enclosing returns the mount among outer (sorted, so parents come first)
// whose destination contains rel, and rel's path below it.
func enclosing(outer []dataMount, rel string) (*dataMount, string) {
	for i := len(outer) - 1; i >= 0; i-- {
		if below, ok := strings.CutPrefix(rel, outer[i].rel+"/"); ok {
			return &outer[i], below
		}
	}
	return nil, ""
}

// MountPaths returns the snapshot paths (/mounts/DEST) of the mounts that
// a docker-container snapshot holds, given its container.json.
func MountPaths(inspectJSON []byte) ([]string, error) {
	var info container.InspectResponse
	if err := json.Unmarshal(inspectJSON, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", InspectFile, err)
	}
	ms, err := dataMounts(info.Mounts)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = "/" + path.Join(MountsDir, m.rel)
	}
	return out, nil
}

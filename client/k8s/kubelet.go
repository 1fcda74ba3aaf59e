package k8s

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// DefaultPodsDir is where the kubelet keeps each pod's volumes.
const DefaultPodsDir = "/var/lib/kubelet/pods"

// Volume plugins whose volumes under the pods directory are backed by a
// PersistentVolume and whose directory name is the PV's name. Directory
// names are plugin names with '/' escaped as '~'.
const (
	pluginCSI   = "kubernetes.io~csi"          // data in <pv>/mount, metadata in <pv>/vol_data.json
	pluginLocal = "kubernetes.io~local-volume" // <pv> is a bind mount of the local PV
)

// maxVolData bounds vol_data.json, a few hundred bytes in practice.
const maxVolData = 64 << 10

// Volume is a PV-backed volume of one pod, found under the pods directory.
type Volume struct {
	PodUID string // the pod directory's name
	PV     string // the PersistentVolume's name (the volume directory's name)
	Plugin string // e.g. "kubernetes.io/csi"
	Driver string // CSI driver name, "" for other plugins
	Path   string // the directory that holds the volume's files
}

// Skipped is a candidate volume that Discover left out, and why.
type Skipped struct {
	Path   string
	Reason string
}

// Source is the volume's snapshot source: kind k8s-pvc, name "pv:" + the
// PV name (stable while the claim is bound, whichever pod mounts it; ':'
// cannot occur in a namespace, so it never collides with the
// NAMESPACE/CLAIM names of [PVC.Source]), and the labels known on the
// node. The claim's namespace and pod name are not on disk, so they are
// absent. node may be "".
func (v Volume) Source(node string) snapshot.Source {
	ls := []snapshot.Label{
		{Key: "plugin", Value: v.Plugin},
		{Key: "pod-uid", Value: v.PodUID},
		{Key: "pv", Value: v.PV},
	}
	if v.Driver != "" {
		ls = append(ls, snapshot.Label{Key: "csi-driver", Value: v.Driver})
	}
	if node != "" {
		ls = append(ls, snapshot.Label{Key: "node", Value: node})
	}
	slices.SortFunc(ls, func(a, b snapshot.Label) int { return strings.Compare(a.Key, b.Key) })
	return snapshot.Source{Kind: snapshot.KindK8sPVC, Name: "pv:" + v.PV, Labels: ls}
}

// volData is the part of the kubelet's CSI vol_data.json that we use.
type volData struct {
	SpecVolID     string `json:"specVolID"`
	DriverName    string `json:"driverName"`
	LifecycleMode string `json:"volumeLifecycleMode"`
}

// Discover lists the PV-backed volumes below podsDir
// (<podsDir>/<pod UID>/volumes/<plugin>/<pv>), sorted by PV name, each PV
// once (a volume mounted by several pods on the node is backed up from
// the first pod UID in byte order). Secrets, config maps, empty dirs and
// other pod-local volumes are not candidates and are ignored silently;
// candidates that cannot be used (inline ephemeral CSI volumes, missing
// or bad vol_data.json, not mounted) are returned in skipped. mounted,
// when not nil, says whether a path is a mount point: a volume whose data
// directory is not (its pod is starting or terminating) is skipped, so an
// empty directory is never recorded as the volume's content.
func Discover(podsDir string, mounted func(string) bool) (vols []Volume, skipped []Skipped, err error) {
	pods, err := os.ReadDir(podsDir)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet pods directory: %w", errors.Unwrap(err))
	}
	seen := map[string]bool{}
	for _, pod := range pods { // ReadDir sorts by name
		if !pod.IsDir() {
			continue
		}
		for _, plugin := range []string{pluginCSI, pluginLocal} {
			dir := filepath.Join(podsDir, pod.Name(), "volumes", plugin)
			ents, err := os.ReadDir(dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				skipped = append(skipped, Skipped{dir, fmt.Sprintf("cannot list: %v", errors.Unwrap(err))})
				continue
			}
			for _, e := range ents {
				if !e.IsDir() {
					continue
				}
				v, reason := inspect(dir, pod.Name(), plugin, e.Name(), mounted)
				switch {
				case reason != "":
					skipped = append(skipped, Skipped{filepath.Join(dir, e.Name()), reason})
				case seen[v.PV]:
					skipped = append(skipped, Skipped{v.Path, "PV " + v.PV + " already found in another pod"})
				default:
					seen[v.PV] = true
					vols = append(vols, v)
				}
			}
		}
	}
	slices.SortFunc(vols, func(a, b Volume) int { return strings.Compare(a.PV, b.PV) })
	return vols, skipped, nil
}

// inspect builds the Volume for <dir>/<name>, or says why it is skipped.
func inspect(dir, podUID, plugin, name string, mounted func(string) bool) (Volume, string) {
	v := Volume{PodUID: podUID, PV: name, Plugin: strings.ReplaceAll(plugin, "~", "/"), Path: filepath.Join(dir, name)}
	if plugin == pluginCSI {
		vd, err := readVolData(filepath.Join(v.Path, "vol_data.json"))
		switch {
		case err != nil:
			return v, err.Error()
		case vd.LifecycleMode == "Ephemeral":
			return v, "inline ephemeral CSI volume, not a PersistentVolume"
		case vd.SpecVolID != "" && vd.SpecVolID != name:
			return v, fmt.Sprintf("vol_data.json names PV %q, the directory %q", vd.SpecVolID, name)
		}
		v.Driver = vd.DriverName
		v.Path = filepath.Join(v.Path, "mount")
	}
	if fi, err := os.Stat(v.Path); err != nil || !fi.IsDir() {
		return v, "no data directory"
	}
	if mounted != nil && !mounted(v.Path) {
		return v, "not mounted"
	}
	return v, ""
}

func readVolData(path string) (volData, error) {
	var vd volData
	f, err := os.Open(path)
	if err != nil {
		return vd, fmt.Errorf("vol_data.json: %v", errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxVolData+1))
	if err != nil || len(b) > maxVolData {
		return vd, fmt.Errorf("vol_data.json: unreadable or larger than %d bytes", maxVolData)
	}
	if err := json.Unmarshal(b, &vd); err != nil {
		return vd, fmt.Errorf("vol_data.json: not JSON: %v", err)
	}
	return vd, nil
}

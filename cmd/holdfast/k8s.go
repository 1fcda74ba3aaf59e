package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/client/k8s"
)

// k8sFlags are backup's Kubernetes modes (SPEC.md §12.7, "Kubernetes
// sources"). Both are switches that change what the PATH argument means,
// so the argument checks of a plain backup still apply.
type k8sFlags struct {
	pvc   bool          // PATH is the mount of the claim named by HOLDFAST_K8S_*
	pods  bool          // PATH is the kubelet pods directory: back up each PV found
	every time.Duration // with pods: repeat every this long until SIGTERM
}

const k8sHelp = `

Kubernetes (see deploy/kubernetes):
  --k8s-pvc PATH      PATH is a PersistentVolumeClaim mounted into this pod.
                      The snapshot's source is kind k8s-pvc, name
                      NAMESPACE/CLAIM, labels namespace, pod and pvc, read from
                      HOLDFAST_K8S_NAMESPACE, HOLDFAST_K8S_POD (downward API
                      metadata.namespace, metadata.name) and HOLDFAST_K8S_PVC.
  --k8s-pods DIR      DIR is the kubelet's pods directory (/var/lib/kubelet/pods).
                      Each PersistentVolume mounted on this node (CSI, local)
                      becomes its own snapshot: kind k8s-pvc, name pv:PVNAME,
                      labels pv, pod-uid, plugin, csi-driver and node (from
                      HOLDFAST_K8S_NODE, downward API spec.nodeName). Secrets,
                      config maps, empty dirs and ephemeral volumes are left out.
  --every DUR         with --k8s-pods: run again every DUR until SIGTERM.
In both modes --host defaults to "kubernetes" (name the cluster with --host
when clusters share a repository).`

// registerK8sFlags adds the Kubernetes flags and their help to backup.
func registerK8sFlags(cmd *cobra.Command) *k8sFlags {
	k := &k8sFlags{}
	f := cmd.Flags()
	f.BoolVar(&k.pvc, "k8s-pvc", false, "back up PATH as the Kubernetes PVC named by HOLDFAST_K8S_NAMESPACE, _POD and _PVC")
	f.BoolVar(&k.pods, "k8s-pods", false, "PATH is the kubelet pods directory: back up each PersistentVolume on this node")
	f.DurationVar(&k.every, "every", 0, "with --k8s-pods, repeat every `DUR` (e.g. 6h) until stopped")
	cmd.Long += k8sHelp
	cmd.Example += `
  holdfast backup --k8s-pvc /data --host prod-eu     (in a CronJob pod)
  holdfast backup --k8s-pods /var/lib/kubelet/pods --every 6h     (in a DaemonSet pod)`
	return k
}

// prepare checks the flags and, for --k8s-pvc, sets the source and host.
// It runs before the repository is opened, so a missing variable fails
// at once with exit 2.
func (k *k8sFlags) prepare(opts *client.BackupOptions, args []string) error {
	switch {
	case k.pvc && k.pods:
		return usagef("--k8s-pvc and --k8s-pods exclude each other")
	case k.every != 0 && !k.pods:
		return usagef("--every needs --k8s-pods")
	case k.every < 0:
		return usagef("--every %v: want a positive duration", k.every)
	case !k.pvc && !k.pods:
		return nil
	case k.pods && opts.Parent != "":
		return usagef("--parent names one snapshot; --k8s-pods backs up many volumes, each with its own parent")
	case len(args) != 1:
		return usagef("--k8s-pvc and --k8s-pods take exactly one PATH, got %d", len(args))
	}
	if opts.Host == "" {
		opts.Host = k8s.DefaultHost
	}
	if k.pods {
		_, err := k8s.NodeFromEnv(os.Getenv)
		return usageIf(err)
	}
	pvc, err := k8s.PVCFromEnv(os.Getenv)
	if err != nil {
		return usageError{err}
	}
	opts.Source = pvc.Source()
	return nil
}

func usageIf(err error) error {
	if err != nil {
		return usageError{err}
	}
	return nil
}

// backupPods backs up every PersistentVolume under the pods directory,
// one snapshot each, once or (with --every) until ctx ends. One volume's
// failure is reported and the others still run.
func (k *k8sFlags) backupPods(ctx context.Context, cmd *cobra.Command, r *client.Repository, opts client.BackupOptions, asJSON bool) error {
	node, _ := k8s.NodeFromEnv(os.Getenv) // checked in prepare
	dir := opts.Paths[0]
	for {
		err := k.podsPass(ctx, cmd, r, opts, dir, node, asJSON)
		if k.every == 0 {
			return err
		}
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "holdfast: %v; next run in %v\n", err, k.every)
		}
		select {
		case <-ctx.Done():
			return nil // SIGTERM between runs is a clean stop
		case <-time.After(k.every):
		}
	}
}

// podsPass is one discovery and backup of every volume found.
func (k *k8sFlags) podsPass(ctx context.Context, cmd *cobra.Command, r *client.Repository, opts client.BackupOptions, dir, node string, asJSON bool) error {
	stderr := cmd.ErrOrStderr()
	mounted, err := k8s.MountPoints()
	if err != nil {
		return err
	}
	vols, skipped, err := k8s.Discover(dir, mounted)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "holdfast: skipped %s: %s\n", s.Path, s.Reason)
	}
	var failed, partial int
	for _, v := range vols {
		o := opts
		o.Paths = []string{v.Path}
		o.Source = v.Source(node)
		o.Progress, o.ProgressEvery = nil, 0
		stop := startBackupProgress(&o)
		sum, err := r.Backup(ctx, o)
		stop(err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "holdfast: %s: %v\n", o.Source.Name, err)
			continue
		}
		for _, fe := range sum.Errors {
			fmt.Fprintf(stderr, "holdfast: %s: %s: %v\n", o.Source.Name, fe.Path, fe.Err)
		}
		warnCache(stderr, sum)
		if len(sum.Errors) > 0 {
			partial++
		}
		if err := printPodsSummary(cmd.OutOrStdout(), o, sum, asJSON); err != nil {
			return err
		}
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d volumes failed (listed above)", failed, len(vols))
	case partial > 0:
		return exitError{exitPartial, fmt.Errorf("%d of %d volumes committed without some unreadable files (listed above)", partial, len(vols))}
	}
	return nil
}

// podsSummaryJSON is backup's --json summary line with the volume's source,
// one line per volume.
type podsSummaryJSON struct {
	backupSummaryJSON
	Source sourceJSON `json:"source"`
}

func printPodsSummary(w io.Writer, o client.BackupOptions, sum *client.BackupSummary, asJSON bool) error {
	if !asJSON {
		_, err := fmt.Fprintf(w, "%s: %d new, %d changed, %d unmodified files; added %s; snapshot %s\n",
			o.Source.Name, sum.FilesNew, sum.FilesChanged, sum.FilesUnmodified, bkBytes(sum.BytesAdded), sum.SnapshotID)
		return err
	}
	line := podsSummaryJSON{
		backupSummaryJSON: backupSummaryJSON{
			MessageType: "summary", SnapshotID: sum.SnapshotID.String(),
			FilesNew: sum.FilesNew, FilesChanged: sum.FilesChanged, FilesUnmodified: sum.FilesUnmodified,
			Dirs: sum.Dirs, BytesRead: sum.BytesRead, BytesAdded: sum.BytesAdded, BytesUploaded: sum.BytesUploaded,
			Size: sum.Size, DurationS: math.Round(sum.Duration.Seconds()*1000) / 1000, Errors: len(sum.Errors),
		},
		Source: sourceJSON{Kind: o.Source.Kind, Name: o.Source.Name, Labels: map[string]string{}},
	}
	if !sum.Parent.IsZero() {
		line.Parent = sum.Parent.String()
	}
	for _, l := range o.Source.Labels {
		line.Source.Labels[l.Key] = l.Value
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Package k8s names Kubernetes volumes as snapshot sources (SPEC.md §7.1
// kind "k8s-pvc", §12.7 "Kubernetes sources").
//
// Two ways in, matching the manifests in deploy/kubernetes:
//
//   - A pod that mounts a PersistentVolumeClaim (the CronJob) learns its
//     namespace, its own pod name and the claim name from environment
//     variables set through the downward API: [PVCFromEnv].
//   - A node agent (the DaemonSet) sees every pod's volumes under the
//     kubelet's pods directory, /var/lib/kubelet/pods/<pod UID>/volumes/
//     <plugin>/<volume>, and picks those backed by a PersistentVolume:
//     [Discover]. There the namespace and pod name are not on disk; what
//     is (pod UID, volume name, PV name, CSI driver) becomes the labels.
//
// The package only reads environment variables and directories; it never
// talks to the Kubernetes API, so the client stays a static binary with
// no cluster credentials.
package k8s

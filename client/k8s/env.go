package k8s

import (
	"fmt"
	"strings"

	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// Environment variables the client reads in Kubernetes, set from the
// downward API in the manifests (fieldRef metadata.namespace,
// metadata.name, spec.nodeName) and, for the claim, by hand.
const (
	EnvNamespace = "HOLDFAST_K8S_NAMESPACE"
	EnvPod       = "HOLDFAST_K8S_POD"
	EnvPVC       = "HOLDFAST_K8S_PVC"
	EnvNode      = "HOLDFAST_K8S_NODE"
)

// ClientEnv is every HOLDFAST_* environment variable the holdfast binary
// reads, connection settings (CONTRACT.md) included. The manifest test in
// deploy/kubernetes checks each HOLDFAST_* variable a manifest sets
// against it, and a test in cmd/holdfast checks it against the code.
var ClientEnv = []string{
	"HOLDFAST_SERVER", "HOLDFAST_TOKEN", "HOLDFAST_REPO", "HOLDFAST_PASSWORD", "HOLDFAST_CA_FILE",
	"HOLDFAST_COMPRESSION",
	EnvNamespace, EnvPod, EnvPVC, EnvNode,
}

// DefaultHost is the host recorded for Kubernetes sources unless --host
// names one. The pod name or node would change from run to run and break
// the parent chain, which is keyed by host and source; a cluster name
// passed with --host is the better choice when clusters share a repository.
const DefaultHost = "kubernetes"

// PVC is a claim mounted into the running pod.
type PVC struct {
	Namespace string
	Pod       string
	Claim     string
}

// PVCFromEnv reads the claim from EnvNamespace, EnvPod and EnvPVC through
// getenv (os.Getenv in the CLI). Each must be set and be a valid
// Kubernetes name; the error names the variable and how to set it.
func PVCFromEnv(getenv func(string) string) (PVC, error) {
	var p PVC
	for _, v := range []struct {
		env, how string
		dst      *string
		check    func(string) error
	}{
		{EnvNamespace, "fieldRef metadata.namespace", &p.Namespace, checkLabel},
		{EnvPod, "fieldRef metadata.name", &p.Pod, checkSubdomain},
		{EnvPVC, "the claim's name", &p.Claim, checkSubdomain},
	} {
		val := getenv(v.env)
		if val == "" {
			return p, fmt.Errorf("%s is not set (set it to %s)", v.env, v.how)
		}
		if err := v.check(val); err != nil {
			return p, fmt.Errorf("%s=%q: %v", v.env, val, err)
		}
		*v.dst = val
	}
	return p, nil
}

// NodeFromEnv returns EnvNode (the node name, fieldRef spec.nodeName), or
// "" when it is unset.
func NodeFromEnv(getenv func(string) string) (string, error) {
	n := getenv(EnvNode)
	if n == "" {
		return "", nil
	}
	if err := checkSubdomain(n); err != nil {
		return "", fmt.Errorf("%s=%q: %v", EnvNode, n, err)
	}
	return n, nil
}

// Source is the snapshot source of the claim: kind k8s-pvc, name
// NAMESPACE/CLAIM (stable across runs, unlike the pod name), labels
// namespace, pod and pvc.
func (p PVC) Source() snapshot.Source {
	return snapshot.Source{
		Kind: snapshot.KindK8sPVC,
		Name: p.Namespace + "/" + p.Claim,
		Labels: []snapshot.Label{
			{Key: "namespace", Value: p.Namespace},
			{Key: "pod", Value: p.Pod},
			{Key: "pvc", Value: p.Claim},
		},
	}
}

// checkLabel accepts an RFC 1123 label, what Kubernetes requires of a
// namespace name: 1 to 63 of a-z, 0-9 and '-', starting and ending with
// a letter or digit.
func checkLabel(s string) error {
	if len(s) > 63 {
		return fmt.Errorf("%d bytes, a namespace name has at most 63", len(s))
	}
	return checkRunes(s, "-", "a namespace name")
}

// checkSubdomain accepts an RFC 1123 subdomain, what Kubernetes requires
// of pod, claim and node names: at most 253 of a-z, 0-9, '-' and '.',
// starting and ending with a letter or digit.
func checkSubdomain(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("%d bytes, a Kubernetes object name has at most 253", len(s))
	}
	return checkRunes(s, "-.", "a Kubernetes object name")
}

func checkRunes(s, inner, what string) error {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if alnum(c) || strings.IndexByte(inner, c) >= 0 && i > 0 && i < len(s)-1 {
			continue
		}
		return fmt.Errorf("not %s (lowercase letters, digits and %q, starting and ending with a letter or digit)", what, inner)
	}
	return nil
}

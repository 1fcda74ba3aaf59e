package k8s

import (
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/format/snapshot"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPVCFromEnv(t *testing.T) {
	good := map[string]string{EnvNamespace: "shop", EnvPod: "backup-pg-29123-abcde", EnvPVC: "data-pg-0"}
	p, err := PVCFromEnv(envOf(good))
	if err != nil {
		t.Fatal(err)
	}
	if p != (PVC{Namespace: "shop", Pod: "backup-pg-29123-abcde", Claim: "data-pg-0"}) {
		t.Fatalf("got %+v", p)
	}
	src := p.Source()
	want := snapshot.Source{Kind: "k8s-pvc", Name: "shop/data-pg-0", Labels: []snapshot.Label{
		{Key: "namespace", Value: "shop"}, {Key: "pod", Value: "backup-pg-29123-abcde"}, {Key: "pvc", Value: "data-pg-0"}}}
	if src.Kind != want.Kind || src.Name != want.Name || len(src.Labels) != 3 {
		t.Fatalf("source %+v, want %+v", src, want)
	}
	for i := range want.Labels {
		if src.Labels[i] != want.Labels[i] {
			t.Errorf("label %d = %+v, want %+v", i, src.Labels[i], want.Labels[i])
		}
	}

	for _, tc := range []struct {
		name, key, val, wantErr string
	}{
		{"namespace missing", EnvNamespace, "", "HOLDFAST_K8S_NAMESPACE is not set (set it to fieldRef metadata.namespace)"},
		{"pod missing", EnvPod, "", "HOLDFAST_K8S_POD is not set"},
		{"pvc missing", EnvPVC, "", "HOLDFAST_K8S_PVC is not set"},
		{"namespace with dot", EnvNamespace, "a.b", `HOLDFAST_K8S_NAMESPACE="a.b": not a namespace name`},
		{"namespace too long", EnvNamespace, strings.Repeat("a", 64), "at most 63"},
		{"uppercase pvc", EnvPVC, "Data", `HOLDFAST_K8S_PVC="Data": not a Kubernetes object name`},
		{"pvc leading dash", EnvPVC, "-data", "not a Kubernetes object name"},
		{"pvc trailing dot", EnvPVC, "data.", "not a Kubernetes object name"},
		{"pvc with slash", EnvPVC, "a/b", "not a Kubernetes object name"},
		{"pod too long", EnvPod, strings.Repeat("p", 254), "at most 253"},
		{"unexpanded downward API", EnvPod, "$(POD_NAME)", "not a Kubernetes object name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			m[tc.key] = tc.val
			_, err := PVCFromEnv(envOf(m))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	// Boundary values are accepted.
	ok := map[string]string{EnvNamespace: strings.Repeat("n", 63), EnvPod: "p", EnvPVC: "a." + strings.Repeat("b", 251)}
	if _, err := PVCFromEnv(envOf(ok)); err != nil {
		t.Fatalf("boundary names refused: %v", err)
	}
}

func TestNodeFromEnv(t *testing.T) {
	if n, err := NodeFromEnv(envOf(nil)); n != "" || err != nil {
		t.Fatalf("unset: %q, %v", n, err)
	}
	if n, err := NodeFromEnv(envOf(map[string]string{EnvNode: "ip-10-0-1-2.ec2.internal"})); n != "ip-10-0-1-2.ec2.internal" || err != nil {
		t.Fatalf("valid: %q, %v", n, err)
	}
	if _, err := NodeFromEnv(envOf(map[string]string{EnvNode: "Node_1"})); err == nil || !strings.Contains(err.Error(), EnvNode) {
		t.Fatalf("invalid node accepted or error without the variable: %v", err)
	}
}

func TestClientEnvNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range ClientEnv {
		if seen[n] || !strings.HasPrefix(n, "HOLDFAST_") {
			t.Errorf("ClientEnv entry %q duplicated or not HOLDFAST_*", n)
		}
		seen[n] = true
	}
}

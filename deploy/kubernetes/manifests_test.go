package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/holdfast-backup/holdfast/client/k8s"
)

// doc is one YAML document of a manifest file.
type doc struct {
	file string
	n    int // 1-based position in the file
	raw  []byte
}

// readDocs splits every *.yaml file here into its documents with the
// Kubernetes YAML reader (which understands "---" separators exactly as
// kubectl does), dropping empty ones.
func readDocs(t *testing.T) []doc {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found (%v)", err)
	}
	var docs []doc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for n := 1; ; n++ {
			raw, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, n, err)
			}
			if len(bytes.TrimSpace(stripComments(raw))) == 0 {
				continue
			}
			docs = append(docs, doc{f, n, raw})
		}
	}
	return docs
}

func stripComments(b []byte) []byte {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAll(b, nil)
}

// objects are the decoded manifests by kind.
type objects struct {
	cronJobs   []*batchv1.CronJob
	daemonSets []*appsv1.DaemonSet
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

// decodeStrict decodes one document into the API type of its kind,
// refusing unknown and duplicate fields.
func decodeStrict(d doc, o *objects) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(d.raw, &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "batch/v1 CronJob":
		cj := &batchv1.CronJob{}
		o.cronJobs, obj = append(o.cronJobs, cj), cj
	case "apps/v1 DaemonSet":
		ds := &appsv1.DaemonSet{}
		o.daemonSets, obj = append(o.daemonSets, ds), ds
	case "v1 Secret":
		s := &corev1.Secret{}
		obj = s
		defer func() { o.secrets[s.Name] = s }()
	case "v1 ConfigMap":
		cm := &corev1.ConfigMap{}
		obj = cm
		defer func() { o.configMaps[cm.Name] = cm }()
	default:
		return errors.New("unexpected kind " + tm.APIVersion + " " + tm.Kind)
	}
	return unmarshalStrict(d.raw, obj)
}

// unmarshalStrict decodes like the API server's strict field validation:
// YAML to JSON (duplicate keys refused), then case-sensitive JSON with
// unknown and duplicate fields refused. (encoding/json, under
// sigs.k8s.io/yaml.UnmarshalStrict, would match "hostPid" to hostPID.)
func unmarshalStrict(raw []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func loadObjects(t *testing.T) *objects {
	t.Helper()
	o := &objects{secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, d := range readDocs(t) {
		if err := decodeStrict(d, o); err != nil {
			t.Fatalf("%s: document %d: %v", d.file, d.n, err)
		}
	}
	if len(o.cronJobs) == 0 || len(o.daemonSets) == 0 || len(o.secrets) == 0 || len(o.configMaps) == 0 {
		t.Fatalf("want at least one CronJob, DaemonSet, Secret and ConfigMap; got %d, %d, %d, %d",
			len(o.cronJobs), len(o.daemonSets), len(o.secrets), len(o.configMaps))
	}
	return o
}

// TestStrictDecodingRefusesUnknownFields proves the check has teeth: a
// misspelt field in a copy of a manifest must fail to decode.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	b, err := os.ReadFile("cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, mutate := range []struct{ from, to string }{
		{"readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"}, // wrong case
		{"  schedule:", "  schedual:"},
		{"restartPolicy: Never", "restartPolicy: Never\n          hostPID: false\n          hostPid: false"},
	} {
		bad := strings.Replace(string(b), mutate.from, mutate.to, 1)
		if bad == string(b) {
			t.Fatalf("mutation %q does not apply to cronjob.yaml", mutate.from)
		}
		o := &objects{secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
		if err := decodeStrict(doc{"cronjob.yaml", 1, []byte(bad)}, o); err == nil {
			t.Errorf("mutation %q -> %q decoded without error", mutate.from, mutate.to)
		}
	}
}

// TestManifests checks every workload's pod template.
func TestManifests(t *testing.T) {
	o := loadObjects(t)
	for _, cj := range o.cronJobs {
		t.Run("CronJob/"+cj.Name, func(t *testing.T) {
			if cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Error("a backup pod must not restart in place: restartPolicy Never")
			}
			checkPod(t, o, &cj.Spec.JobTemplate.Spec.Template.Spec, "--k8s-pvc")
		})
	}
	for _, ds := range o.daemonSets {
		t.Run("DaemonSet/"+ds.Name, func(t *testing.T) {
			sel := ds.Spec.Selector.MatchLabels
			for k, v := range sel {
				if ds.Spec.Template.Labels[k] != v {
					t.Errorf("selector %s=%s does not match the template's labels", k, v)
				}
			}
			checkPod(t, o, &ds.Spec.Template.Spec, "--k8s-pods")
		})
	}
}

// downward is the field each downward-API variable must come from.
var downward = map[string]string{
	k8s.EnvNamespace: "metadata.namespace",
	k8s.EnvPod:       "metadata.name",
	k8s.EnvNode:      "spec.nodeName",
}

func checkPod(t *testing.T, o *objects, pod *corev1.PodSpec, mode string) {
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the client needs no API access: automountServiceAccountToken: false")
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	var found bool
	for _, c := range pod.Containers {
		if c.Image != "holdfast:latest" || !slices.Equal(c.Command, []string{"/holdfast"}) {
			continue
		}
		found = true
		env := checkEnv(t, o, c)
		checkSecurity(t, pod, c)
		mounts := map[string]corev1.VolumeMount{}
		for _, m := range c.VolumeMounts {
			if _, ok := vols[m.Name]; !ok {
				t.Errorf("volumeMount %q names no volume of the pod", m.Name)
			}
			mounts[m.MountPath] = m
		}
		checkArgs(t, c, env)
		checkCAFile(t, o, env, mounts, vols)
		i := slices.Index(c.Args, mode)
		if i < 0 || i+1 >= len(c.Args) {
			t.Fatalf("args %v lack %s PATH", c.Args, mode)
		}
		m, ok := mounts[c.Args[i+1]]
		if !ok || !m.ReadOnly {
			t.Fatalf("%s %s is not a read-only volume mount", mode, c.Args[i+1])
		}
		v := vols[m.Name]
		switch mode {
		case "--k8s-pvc":
			if v.PersistentVolumeClaim == nil || !v.PersistentVolumeClaim.ReadOnly {
				t.Errorf("volume %q is not a read-only persistentVolumeClaim", m.Name)
			} else if env[k8s.EnvPVC] != v.PersistentVolumeClaim.ClaimName {
				t.Errorf("%s=%q but the mounted claim is %q", k8s.EnvPVC, env[k8s.EnvPVC], v.PersistentVolumeClaim.ClaimName)
			}
		case "--k8s-pods":
			if v.HostPath == nil || v.HostPath.Path != k8s.DefaultPodsDir {
				t.Errorf("volume %q is not the hostPath %s", m.Name, k8s.DefaultPodsDir)
			}
			if m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationHostToContainer {
				t.Errorf("%s: without mountPropagation HostToContainer later volume mounts stay invisible", m.MountPath)
			}
		}
	}
	if !found {
		t.Fatal("no container runs holdfast:latest with command /holdfast")
	}
}

// checkEnv returns the container's literal env values, after checking
// that every HOLDFAST_* name is one the client reads, that each reference
// to a Secret or ConfigMap key resolves here, and that downward-API
// variables take the right field.
func checkEnv(t *testing.T, o *objects, c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "HOLDFAST_") && !slices.Contains(k8s.ClientEnv, e.Name) {
			t.Errorf("env %s is not read by the client (known: %v)", e.Name, k8s.ClientEnv)
		}
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e.Value
		vf := e.ValueFrom
		switch {
		case vf == nil:
		case vf.SecretKeyRef != nil:
			s := o.secrets[vf.SecretKeyRef.Name]
			if s == nil || s.StringData[vf.SecretKeyRef.Key] == "" && len(s.Data[vf.SecretKeyRef.Key]) == 0 {
				t.Errorf("env %s: Secret %s has no key %s", e.Name, vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
			}
		case vf.ConfigMapKeyRef != nil:
			cm := o.configMaps[vf.ConfigMapKeyRef.Name]
			if cm == nil || cm.Data[vf.ConfigMapKeyRef.Key] == "" {
				t.Errorf("env %s: ConfigMap %s has no key %s", e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key)
			} else {
				env[e.Name] = cm.Data[vf.ConfigMapKeyRef.Key]
			}
		case vf.FieldRef != nil:
			if want, ok := downward[e.Name]; ok && vf.FieldRef.FieldPath != want {
				t.Errorf("env %s from %s, want %s", e.Name, vf.FieldRef.FieldPath, want)
			}
		}
		if want, ok := downward[e.Name]; ok && (vf == nil || vf.FieldRef == nil) {
			t.Errorf("env %s must come from the downward API (fieldRef %s)", e.Name, want)
		}
	}
	for _, need := range []string{"HOLDFAST_SERVER", "HOLDFAST_REPO", "HOLDFAST_TOKEN", "HOLDFAST_PASSWORD"} {
		if _, ok := env[need]; !ok {
			t.Errorf("env %s not set", need)
		}
	}
	return env
}

// checkCAFile: the image has no CA certificates, so a container that talks
// to an https server must set HOLDFAST_CA_FILE, and the file must be a key
// of a ConfigMap or Secret here, mounted read-only.
func checkCAFile(t *testing.T, o *objects, env map[string]string, mounts map[string]corev1.VolumeMount, vols map[string]corev1.Volume) {
	file, ok := env["HOLDFAST_CA_FILE"]
	if !ok {
		if strings.HasPrefix(env["HOLDFAST_SERVER"], "https://") {
			t.Error("HOLDFAST_SERVER is https:// but HOLDFAST_CA_FILE is not set: the scratch image trusts no CA")
		}
		return
	}
	m, ok := mounts[path.Dir(file)]
	if !ok || !m.ReadOnly {
		t.Errorf("HOLDFAST_CA_FILE=%s is not in a read-only volume mount", file)
		return
	}
	v := vols[m.Name]
	var items []corev1.KeyToPath
	var data map[string]string
	switch {
	case v.ConfigMap != nil && o.configMaps[v.ConfigMap.Name] != nil:
		items, data = v.ConfigMap.Items, o.configMaps[v.ConfigMap.Name].Data
	case v.Secret != nil && o.secrets[v.Secret.SecretName] != nil:
		items, data = v.Secret.Items, o.secrets[v.Secret.SecretName].StringData
	default:
		t.Errorf("HOLDFAST_CA_FILE=%s: volume %q is not a ConfigMap or Secret of these manifests", file, m.Name)
		return
	}
	key := path.Base(file) // without items, each key is a file of its name
	if len(items) > 0 {
		key = ""
		for _, it := range items {
			if it.Path == path.Base(file) {
				key = it.Key
			}
		}
	}
	if key == "" || data[key] == "" {
		t.Errorf("HOLDFAST_CA_FILE=%s: no key of volume %q becomes that file", file, m.Name)
	}
}

func checkSecurity(t *testing.T, pod *corev1.PodSpec, c corev1.Container) {
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("capabilities must drop ALL")
	}
	if sc != nil && sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged is never needed")
	}
	if sc != nil && sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Add {
			if c != "DAC_READ_SEARCH" {
				t.Errorf("capability %s added; only DAC_READ_SEARCH (read any file) is needed", c)
			}
		}
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("no memory limit")
	}
}

// checkArgs makes sure the holdfast binary accepts the container's command
// line: `holdfast ARGS... --help` fails on any unknown flag or bad flag
// value (exit 2) and prints help otherwise. $(VAR) references must name a
// variable of the container, as Kubernetes expands them.
func checkArgs(t *testing.T, c corev1.Container, env map[string]string) {
	for _, a := range c.Args {
		for _, m := range regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).FindAllStringSubmatch(a, -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("arg %q refers to $(%s), which the container does not set", a, m[1])
			}
		}
	}
	cmd := exec.Command(holdfastBinary(t), append(slices.Clone(c.Args), "--help")...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("holdfast %s --help: %v\n%s", strings.Join(c.Args, " "), err, out)
	} else if !bytes.Contains(out, []byte("Usage:")) {
		t.Errorf("holdfast %s --help printed no usage:\n%s", strings.Join(c.Args, " "), out)
	}
}

var bin struct {
	once sync.Once
	path string
	err  error
}

// holdfastBinary builds cmd/holdfast from the main module, once.
func holdfastBinary(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() {
		dir, err := os.MkdirTemp("", "holdfast-manifests-")
		if err != nil {
			bin.err = err
			return
		}
		bin.path = filepath.Join(dir, "holdfast")
		cmd := exec.Command("go", "build", "-o", bin.path, "./cmd/holdfast")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			bin.err = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if bin.err != nil {
		t.Fatal(bin.err)
	}
	return bin.path
}

// TestHelpRefusesUnknownFlags proves checkArgs can fail: an unknown flag
// with --help is an error.
func TestHelpRefusesUnknownFlags(t *testing.T) {
	cmd := exec.Command(holdfastBinary(t), "backup", "--k8s-pvc", "/data", "--k8s-pvcc", "--help")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("unknown flag with --help: %v\n%s", err, out)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin.path != "" {
		os.RemoveAll(filepath.Dir(bin.path))
	}
	os.Exit(code)
}

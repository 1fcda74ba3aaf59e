package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/client/k8s"
)

// TestClientEnvList checks k8s.ClientEnv, the list the manifest test in
// deploy/kubernetes trusts, against the HOLDFAST_* names that the client's
// code (this command and the client packages) actually spells out.
func TestClientEnvList(t *testing.T) {
	re := regexp.MustCompile(`"(HOLDFAST_[A-Z0-9_]+)"`)
	// The list itself does not count as a use.
	list := regexp.MustCompile(`(?s)var ClientEnv = \[\]string\{.*?\n\}`)
	used := map[string]string{}
	for _, glob := range []string{"*.go", "../../client/*.go", "../../client/*/*.go"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(list.ReplaceAllString(string(b), ""), -1) {
				used[m[1]] = f
			}
		}
	}
	if len(used) < 4 {
		t.Fatalf("found only %v: the scan is broken", used)
	}
	for name, file := range used {
		if !slices.Contains(k8s.ClientEnv, name) {
			t.Errorf("%s (in %s) is missing from k8s.ClientEnv", name, file)
		}
	}
	for _, name := range k8s.ClientEnv {
		if _, ok := used[name]; !ok {
			t.Errorf("k8s.ClientEnv lists %s, which no client code reads", name)
		}
	}
}

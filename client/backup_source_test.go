package client

import (
	"errors"
	"testing"

	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// TestPlanBackupSource: a caller-given source replaces the path source,
// with labels sorted; a bad one is refused as invalid options before
// anything is read.
func TestPlanBackupSource(t *testing.T) {
	dir := t.TempDir()
	p, err := planBackup(BackupOptions{Paths: []string{dir}, Host: "h"})
	if err != nil || p.source.Kind != snapshot.KindPath || p.source.Name != dir {
		t.Fatalf("default source %+v, %v", p.source, err)
	}
	src := snapshot.Source{Kind: snapshot.KindK8sPVC, Name: "ns/claim", Labels: []snapshot.Label{
		{Key: "pvc", Value: "claim"}, {Key: "namespace", Value: "ns"}, {Key: "pod", Value: "p"}}}
	p, err = planBackup(BackupOptions{Paths: []string{dir}, Host: "h", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if p.source.Kind != "k8s-pvc" || p.source.Name != "ns/claim" || p.source.Labels[0].Key != "namespace" || p.source.Labels[2].Key != "pvc" {
		t.Fatalf("source %+v", p.source)
	}
	if src.Labels[0].Key != "pvc" {
		t.Error("the caller's label slice was reordered")
	}
	for _, bad := range []snapshot.Source{
		{Kind: "K8s"},
		{Kind: "k8s pvc"},
		{Kind: "k8s-pvc", Labels: []snapshot.Label{{Key: "a"}, {Key: "a"}}},
		{Kind: "k8s-pvc", Labels: []snapshot.Label{{Key: ""}}},
		{Kind: "k8s-pvc", Name: string(make([]byte, 4097))},
	} {
		if _, err := planBackup(BackupOptions{Paths: []string{dir}, Host: "h", Source: bad}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("source %.40v: error %v, want ErrInvalidOptions", bad, err)
		}
	}
}

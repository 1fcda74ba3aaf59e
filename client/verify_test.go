package client

import (
	"context"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/tree"
)

func TestVerify(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	ctx := context.Background()
	nodes := rsSample()
	rsSnapshot(t, r, nodes...)
	rsSnapshot(t, r, nodes[:3]...) // shares listings and chunks with the first

	for _, readData := range []bool{false, true} {
		res, err := s.open(t, "restore").Verify(ctx, readData)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) != 0 || res.Snapshots != 2 || res.Trees < 5 || res.DataChunks < 10 {
			t.Errorf("clean repository, readData %v: %+v", readData, *res)
		}
		if readData && (res.ChunksRead != res.DataChunks || res.BytesRead == 0) {
			t.Errorf("read %d of %d data chunks", res.ChunksRead, res.DataChunks)
		}
	}

	// A file whose chunk is stored under its ID but holds another chunk's
	// envelope: the trees are fine, reading the data is not.
	b := newRSBuilder(t, r)
	bad := &rsNode{name: "bad.bin", typ: tree.File, mode: 0o644, parts: []rsPart{{data: []byte("the real bytes"), forged: true}}}
	b.commit([]*rsNode{rsDirOf("d", 0o755, bad)}, nil)
	res, err := r.Verify(ctx, false)
	if err != nil || len(res.Problems) != 0 {
		t.Errorf("without --read-data: %v %q", err, res.Problems)
	}
	res, err = r.Verify(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "/d/bad.bin") || !strings.Contains(res.Problems[0], "authentication") {
		t.Errorf("forged chunk: problems %q", res.Problems)
	}
	t.Logf("problems: %q", res.Problems)

	// A snapshot whose reference list leaves out a chunk its trees use
	// (GC would collect it).
	b = newRSBuilder(t, r)
	lost := rsFile("lost", 0o644, rsData([]byte("unprotected chunk")))
	b.omit = map[format.ID]bool{r.Sealer.ID([]byte("unprotected chunk")): true}
	b.commit([]*rsNode{lost, rsFile("kept", 0o644, rsData([]byte("kept")))}, nil)
	res, err = r.Verify(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "/lost") || !strings.Contains(res.Problems[0], "reference list") {
		t.Errorf("missing reference: problems %q", res.Problems)
	}
}

package repo

import (
	"testing"

	"github.com/holdfast-backup/holdfast/format/pack"
)

// checkRecords is the pre-publish check that replaced re-hashing every
// record: it must pass a built pack and fail one whose records are not
// where the entries say.
func TestCheckRecords(t *testing.T) {
	b := pack.NewBuilder()
	for _, c := range makeChunks(t, "check records", 5, 3000) {
		if err := b.Add(c.id, c.envelope); err != nil {
			t.Fatal(err)
		}
	}
	data, _, entries, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRecords(data, entries); err != nil {
		t.Fatalf("built pack: %v", err)
	}
	shifted := append([]pack.Entry(nil), entries...)
	shifted[2].Offset++
	if err := checkRecords(data, shifted); err == nil {
		t.Fatal("a record one byte off its entry passed")
	}
	past := append([]pack.Entry(nil), entries...)
	past[4].Length = uint32(len(data))
	if err := checkRecords(data, past); err == nil {
		t.Fatal("a record past the end of the pack passed")
	}
}

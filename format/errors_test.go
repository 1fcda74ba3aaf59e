package format

import (
	"errors"
	"io"
	"testing"
)

func TestCorruptf(t *testing.T) {
	err := Corruptf("pack %d: %w", 3, io.ErrUnexpectedEOF)
	if !IsCorrupt(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Corruptf lost its class or cause: %v", err)
	}
	if err.Error() != "pack 3: unexpected EOF" {
		t.Fatalf("message = %q", err.Error())
	}
	v := VersionErrorf("tree", 9, 1)
	if !IsCorrupt(v) || !errors.Is(v, ErrVersion) {
		t.Fatalf("version error must match both classes: %v", v)
	}
	if IsCorrupt(io.EOF) {
		t.Fatal("io.EOF is not corruption")
	}
}

func TestParseID(t *testing.T) {
	var id ID
	for i := range id {
		id[i] = byte(i)
	}
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseID(String()) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "00", id.String() + "0", "zz" + id.String()[2:]} {
		if _, err := ParseID(bad); err == nil {
			t.Fatalf("ParseID(%q) accepted", bad)
		}
	}
}

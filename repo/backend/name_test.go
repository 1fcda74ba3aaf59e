package backend_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/backendtest"
)

func TestNameValidate(t *testing.T) {
	for _, name := range []backend.Name{
		"a", "A9", "a/b.c-d_e", "myrepo/packs/ab/0123abcd.03", "x..y", "a/b../c", "-", "_/_",
		backend.Name(strings.Repeat("a", 255)),
		backend.Name(strings.Repeat("abcdefg/", backend.MaxNameLen/8-1) + "abcdefg"),
	} {
		if err := name.Validate(); err != nil {
			t.Errorf("Validate(%q): %v", name, err)
		}
	}
	for _, name := range backendtest.BadNames {
		err := name.Validate()
		if !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Validate(%q): got %v, want ErrInvalidName", name, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "a", "a/", "a/b", "a/b/", "a/b.", "a/b-"} {
		if err := backend.ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"/", "/a", "a//", "a//b", ".", "..", "a/.", "a/..", "a b", "a\\"} {
		if err := backend.ValidatePrefix(p); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("ValidatePrefix(%q): got %v, want ErrInvalidName", p, err)
		}
	}
}

func TestNameErrorIsShort(t *testing.T) {
	err := backend.Name(strings.Repeat("x", 10000)).Validate()
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error for a huge name: %d bytes", len(err.Error()))
	}
}

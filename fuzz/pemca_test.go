package fuzz

import (
	"bytes"
	"encoding/pem"
	"os"
	"testing"

	"github.com/holdfast-backup/holdfast/format/pemca"
	"github.com/holdfast-backup/holdfast/format/pemca/pemcatest"
)

// FuzzPEMCA: Parse never panics, never quotes its input in an error (a
// pasted key must not reach a log), and accepts only input whose every PEM
// block is a certificate.
func FuzzPEMCA(f *testing.F) {
	c := pemcatest.New(f, f.TempDir())
	for _, p := range []string{c.CA, c.Key} {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// A marker spliced into the input (inside a PEM body too, when
		// there is one) must never come back in an error.
		const marker = "zq-private-marker"
		marked := append(bytes.Clone(raw), "\n"+marker+"\n"...)
		if i := bytes.Index(raw, []byte("-----\n")); i >= 0 {
			marked = append(append(bytes.Clone(raw[:i+6]), marker+"\n"...), raw[i+6:]...)
		}
		if _, err := pemca.Parse(marked); err != nil && bytes.Contains([]byte(err.Error()), []byte(marker)) {
			t.Fatalf("error quotes the input: %v", err)
		}
		pool, err := pemca.Parse(raw)
		if err != nil {
			return
		}
		if pool == nil {
			t.Fatal("nil pool without an error")
		}
		for rest := raw; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				t.Fatalf("accepted a %q block", b.Type)
			}
		}
	})
}

package fuzz

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/keys"
)

const keyFilePassword = "correct horse"

// keyFileMaster is the master of the key file seeds: key bytes 0..31.
func keyFileMaster() *keys.Master {
	m := &keys.Master{Chunker: chunker.DefaultParams}
	for i := range m.Key {
		m.Key[i] = byte(i)
	}
	return m
}

// keyFileSeed wraps keyFileMaster with a fixed salt and nonce, so the seeds
// are stable.
func keyFileSeed(label string) []byte {
	kf, err := keys.Wrap(keyFileMaster(), []byte(keyFilePassword), keys.TestKDF, label,
		time.Unix(1795305600, 0), bytes.NewReader(make([]byte, keys.SaltSize+keys.NonceSize)))
	if err != nil {
		panic(err)
	}
	return kf
}

// FuzzKeyFile: Inspect and Unwrap never panic; structural damage is
// corrupt (and found by Inspect too, before any KDF runs); the only other
// failure is ErrWrongPassword; and a file that does unwrap is byte for
// byte one that Wrap made (the AEAD covers every byte).
func FuzzKeyFile(f *testing.F) {
	f.Add(keyFileSeed(""))
	f.Add(keyFileSeed("alice@laptop"))
	f.Add([]byte("HFKF\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, inspectErr := keys.Inspect(data)
		if inspectErr != nil && !format.IsCorrupt(inspectErr) {
			t.Fatalf("Inspect error %v is not corrupt", inspectErr)
		}
		if inspectErr == nil && (info.KDF.MemoryKiB > 1024 || info.KDF.Time > 4) {
			return // valid but slow to derive; bounds are tested in keys
		}
		m, _, err := keys.Unwrap(data, []byte(keyFilePassword))
		switch {
		case err == nil:
			if inspectErr != nil {
				t.Fatalf("Unwrap accepted what Inspect refused: %v", inspectErr)
			}
			if *m != *keyFileMaster() || !bytes.Equal(data, keyFileSeed(info.Label)) {
				t.Fatalf("unwrapped a key file Wrap did not make")
			}
		case errors.Is(err, keys.ErrWrongPassword):
			if inspectErr != nil || format.IsCorrupt(err) {
				t.Fatalf("wrong password for a file Inspect refuses (%v), or also corrupt", inspectErr)
			}
		case format.IsCorrupt(err):
			// Structural damage Inspect sees, or a bad payload behind a
			// valid tag (impossible without the password).
			if inspectErr == nil {
				t.Fatalf("Unwrap corrupt (%v) but Inspect accepted", err)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

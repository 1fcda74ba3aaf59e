package pemca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// MaxSize bounds a bundle: a CA bundle is kilobytes, the system's whole
// bundle about 200 KiB.
const MaxSize = 1 << 20

var beginMarker = []byte("-----BEGIN ")

// Parse reads every block of raw into a new pool. Every block must be a
// CERTIFICATE (a private key pasted in by mistake is refused, not
// skipped) and must decode (pem.Decode alone would skip a damaged block
// and trust the rest, silently fewer CAs than the file names), and there
// must be at least one. Errors name the block and its line, never its
// contents.
func Parse(raw []byte) (*x509.CertPool, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than the %d a CA bundle may have", len(raw), MaxSize)
	}
	pool := x509.NewCertPool()
	n := 0
	for off := 0; ; n++ {
		i := bytes.Index(raw[off:], beginMarker)
		if i < 0 {
			break
		}
		start, end := off+i, len(raw)
		if j := bytes.Index(raw[start+1:], beginMarker); j >= 0 {
			end = start + 1 + j
		}
		off = end
		if err := addBlock(pool, raw[start:end]); err != nil {
			return nil, fmt.Errorf("PEM block %d (line %d): %w", n+1, 1+bytes.Count(raw[:start], []byte("\n")), err)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no PEM certificate in it (want -----BEGIN CERTIFICATE----- blocks)")
	}
	return pool, nil
}

// addBlock decodes the one PEM block that seg starts with and adds its
// certificate to pool.
func addBlock(pool *x509.CertPool, seg []byte) error {
	block, _ := pem.Decode(seg)
	if block == nil {
		return fmt.Errorf("does not decode (bad base64, or no matching -----END line)")
	}
	if block.Type != "CERTIFICATE" {
		return fmt.Errorf("is a %q, want only CERTIFICATE blocks", block.Type)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("certificate: %v", err)
	}
	pool.AddCert(cert)
	return nil
}

package pemca

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// MaxSize bounds a bundle: a CA bundle is kilobytes, the system's whole
// bundle about 200 KiB.
const MaxSize = 1 << 20

// Parse reads every block of raw into a new pool. Every block must be a
// CERTIFICATE (a private key pasted in by mistake is refused, not
// skipped), and there must be at least one. Errors name the block, never
// its contents.
func Parse(raw []byte) (*x509.CertPool, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than the %d a CA bundle may have", len(raw), MaxSize)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := raw; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, want only CERTIFICATE blocks", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, fmt.Errorf("no PEM certificate in it (want -----BEGIN CERTIFICATE----- blocks)")
	}
	return pool, nil
}

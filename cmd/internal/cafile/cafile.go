package cafile

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// maxSize bounds the file: a CA bundle is kilobytes, the system's whole
// bundle about 200 KiB.
const maxSize = 4 << 20

// Load reads every CERTIFICATE block of the PEM file at path into a new
// pool. Other PEM blocks (a private key pasted in by mistake) are refused
// rather than skipped, and so is a file without certificates. Errors name
// the file and the block, never its contents.
func Load(path string) (*x509.CertPool, error) {
	raw, err := readSmall(path)
	if err != nil {
		return nil, err
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
			return nil, fmt.Errorf("CA file %s: PEM block %d is a %q, want only CERTIFICATE blocks", path, n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: certificate %d: %v", path, n, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it (want -----BEGIN CERTIFICATE----- blocks)", path)
	}
	return pool, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxSize {
		return nil, fmt.Errorf("CA file %s: not a regular file of at most %d bytes", path, maxSize)
	}
	raw := make([]byte, fi.Size())
	if _, err := f.ReadAt(raw, 0); err != nil {
		return nil, fmt.Errorf("CA file %s: %w", path, err)
	}
	return raw, nil
}

// Explain adds what to do to a TLS verification failure and returns
// other errors unchanged. flag names the setting that fixes it. RPC error
// wrappers often keep only the message, so the x509 messages (stable
// since Go 1.0) are matched as well as the types.
func Explain(err error, flag string) error {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "ca_file"):
		// A replication error from the server, which already says what
		// fixes it there (its configuration, not this command's flags).
		return err
	case errors.As(err, &unknown) || strings.Contains(msg, "x509: certificate signed by unknown authority"):
		return fmt.Errorf("%w (the server's certificate is signed by a CA this machine does not trust: give that CA's certificate with %s)", err, flag)
	case errors.As(err, &hostname) || strings.Contains(msg, "x509: certificate is valid for") ||
		strings.Contains(msg, "x509: certificate is not valid for any names"):
		return fmt.Errorf("%w (the server's certificate is for another name: use a URL with a name the certificate lists)", err)
	case errors.As(err, &invalid) || strings.Contains(msg, "x509: certificate has expired or is not yet valid"):
		return fmt.Errorf("%w (check the server's certificate dates and this machine's clock)", err)
	}
	return err
}

package cafile

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/holdfast-backup/holdfast/format/pemca"
)

// Load reads the PEM bundle at path into a new pool (pemca.Parse's
// rules). Errors name the file, never quote it.
func Load(path string) (*x509.CertPool, error) {
	_, pool, err := load(path)
	return pool, err
}

// Read returns the PEM bundle at path, checked like Load, to send to a
// server that will trust it (admin replicate --to-ca-file).
func Read(path string) ([]byte, error) {
	raw, _, err := load(path)
	return raw, err
}

func load(path string) ([]byte, *x509.CertPool, error) {
	raw, err := readSmall(path)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pemca.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("CA file %s: %v", path, err)
	}
	return raw, pool, nil
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
	if !fi.Mode().IsRegular() || fi.Size() > pemca.MaxSize {
		return nil, fmt.Errorf("CA file %s: not a regular file of at most %d bytes", path, pemca.MaxSize)
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

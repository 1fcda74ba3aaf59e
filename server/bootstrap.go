package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// AdminTokenFile is the name, inside the data directory, of the file that
// holds the server-admin token created at first start (CONTRACT.md).
const AdminTokenFile = "admin.token"

// adminTokenLabel labels the bootstrap token in ListTokens.
const adminTokenLabel = "bootstrap (DATA/admin.token)"

// maxTokenLen is the longest token text authenticate accepts.
const maxTokenLen = 128

// EnsureAdminToken makes sure the server has a server-admin token that the
// operator can read from DATA/admin.token, and returns it.
//
// If the file exists, its token (surrounding space trimmed) is used, and its
// hash is registered in the index as a server-admin token if it is not
// there (an index rebuilt without the old one lost its tokens). A file that
// group or others may read or write is refused: the token is the key to
// every repository. A file whose token the index knows with another role is
// refused too.
//
// Otherwise a new server-admin token is created: the file is written first
// (temporary file, fsync, rename, fsync of the directory; mode 0600) and
// the hash registered after, with sync. A crash in between leaves a file
// whose token the next start registers; the other order could leave a
// registered token nobody knows. created reports whether the token is new.
//
// The token text is secret: callers print it once, to the operator, and
// never log it.
func EnsureAdminToken(dataDir string, r *repo.Repo) (token string, created bool, err error) {
	path := filepath.Join(dataDir, AdminTokenFile)
	token, err = readAdminToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		var hash indexkey.TokenHash
		if token, hash, err = NewToken(); err != nil {
			return "", false, fmt.Errorf("admin token: %w", err)
		}
		if err := writeFileAtomic(path, []byte(token+"\n")); err != nil {
			return "", false, fmt.Errorf("admin token: %w", err)
		}
		if err := registerAdminToken(r, hash); err != nil {
			return "", false, fmt.Errorf("admin token: %w", err)
		}
		return token, true, nil
	}
	if err != nil {
		return "", false, err
	}
	if err := registerAdminToken(r, HashToken(token)); err != nil {
		return "", false, fmt.Errorf("admin token in %s: %w", path, err)
	}
	return token, false, nil
}

// readAdminToken reads and checks the token file. Its error wraps
// fs.ErrNotExist when there is no file.
func readAdminToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("admin token: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("admin token: %s is accessible to group or others (mode %#o); "+
			"run chmod 600 on it, and revoke the token if someone else may have read it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4<<10))
	if err != nil {
		return "", fmt.Errorf("admin token: read %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) > maxTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("admin token: %s does not hold a Holdfast token (%q followed by base64url); "+
			"delete it to have a new one created", path, TokenPrefix)
	}
	return tok, nil
}

// registerAdminToken makes sure the index holds hash as a server-admin
// token that does not expire.
func registerAdminToken(r *repo.Repo, hash indexkey.TokenHash) error {
	rec, err := r.Index().GetToken(hash)
	switch {
	case err == nil:
		if rec.Repo != 0 || rec.Role != indexkey.RoleAdmin {
			return fmt.Errorf("the index knows this token as a %s token of repository %d, not as the server-admin token", rec.Role, rec.Repo)
		}
		if !rec.Expires.IsZero() && !time.Now().Before(rec.Expires) {
			return errors.New("the index holds this token as expired; delete the file to have a new one created")
		}
		return nil
	case !errors.Is(err, index.ErrNotFound):
		return err
	}
	b := r.Index().NewBatch()
	defer b.Close()
	b.PutToken(hash, indexkey.TokenRecord{Role: indexkey.RoleAdmin, Created: time.Now(), Label: adminTokenLabel})
	return b.Commit(true)
}

// writeFileAtomic writes data to path with mode 0600 so that no reader
// ever sees a partial file: temporary file in the same directory, fsync,
// rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

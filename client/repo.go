package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format/chunker"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
)

// Repository is an opened repository: a connection plus the keys unwrapped
// from one of its key files. Everything that reads or writes data goes
// through it.
type Repository struct {
	*Conn
	Master  *keys.Master
	Keys    keys.Keys
	Sealer  *seal.Sealer
	Gear    *chunker.Gear
	Chunker chunker.Params
}

// InitOptions tune Init.
type InitOptions struct {
	Chunker chunker.Params // zero means chunker.DefaultParams
	KDF     keys.KDFParams // zero means keys.DefaultKDF
	Label   string         // who the key file is for; default user@host
}

// Init creates the repository's master key, wraps it with password and
// stores the key file on the server. It refuses a repository that already
// has a key file, so a second init cannot strand the data of the first.
func Init(ctx context.Context, c *Conn, password []byte, opts InitOptions) (*Repository, error) {
	list, err := c.Repos.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: c.Repo()}))
	if err != nil {
		return nil, fromRPC("list key files", err)
	}
	if len(list.Msg.KeyFiles) > 0 {
		return nil, fmt.Errorf("init %s: %w", c.Repo(), ErrAlreadyInitialized)
	}
	if opts.Chunker == (chunker.Params{}) {
		opts.Chunker = chunker.DefaultParams
	}
	if opts.KDF == (keys.KDFParams{}) {
		opts.KDF = keys.DefaultKDF
	}
	if opts.Label == "" {
		opts.Label = defaultLabel()
	}
	m, err := keys.NewMaster(nil, opts.Chunker)
	if err != nil {
		return nil, err
	}
	blob, err := keys.Wrap(m, password, opts.KDF, opts.Label, time.Now(), nil)
	if err != nil {
		return nil, err
	}
	if _, err := c.Repos.PutKeyFile(ctx, connect.NewRequest(&holdfastv1.PutKeyFileRequest{Repo: c.Repo(), KeyFile: blob})); err != nil {
		return nil, fromRPC("store key file", err)
	}
	return newRepository(c, m), nil
}

// Open unwraps the repository's keys with password: it tries every key file
// the server holds until one opens.
func Open(ctx context.Context, c *Conn, password []byte) (*Repository, error) {
	u, err := StartOpen(ctx, c, password)
	if err != nil {
		return nil, err
	}
	return u.Wait()
}

// Unlocking is a repository whose key files are being unwrapped on another
// goroutine. Argon2id (keys.DefaultKDF) costs a noticeable share of a short
// command, so work that needs no key (listing snapshots, opening an upload
// session, pinning the parent's chunks, listing the files to back up) can
// run meanwhile; [Unlocking.Wait] joins it where a key is first needed.
// The KDF is the same as Open's and the keys never touch the disk.
type Unlocking struct {
	*Conn
	done chan struct{}
	repo *Repository
	err  error
}

// openHooks let tests hold the unwrap back, to check what runs before it
// ends. Nil in production.
var openHooks struct {
	beforeUnwrap func()
}

// StartOpen lists the repository's key files, so that a refused token or
// a repository without keys is reported at once, and starts unwrapping
// them with password in the background. ctx bounds the listing only.
func StartOpen(ctx context.Context, c *Conn, password []byte) (*Unlocking, error) {
	list, err := c.Repos.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: c.Repo()}))
	if err != nil {
		return nil, fromRPC("list key files", err)
	}
	if len(list.Msg.KeyFiles) == 0 {
		return nil, fmt.Errorf("open %s: %w", c.Repo(), ErrNotInitialized)
	}
	u := &Unlocking{Conn: c, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		if h := openHooks.beforeUnwrap; h != nil {
			h()
		}
		u.repo, u.err = unwrapAny(c, list.Msg.KeyFiles, password)
	}()
	return u, nil
}

// Wait returns the opened repository once the unwrap is done, or
// ErrWrongPassword (wrapped) when no key file opens with the password.
// It may be called any number of times, from any goroutine.
func (u *Unlocking) Wait() (*Repository, error) {
	<-u.done
	return u.repo, u.err
}

// unwrapAny tries every key file until one opens with password.
func unwrapAny(c *Conn, files []*holdfastv1.KeyFile, password []byte) (*Repository, error) {
	var damaged error
	for _, kf := range files {
		m, _, err := keys.Unwrap(kf.KeyFile, password)
		if err == nil {
			return newRepository(c, m), nil
		}
		if !errors.Is(err, keys.ErrWrongPassword) {
			damaged = err
		}
	}
	if damaged != nil {
		return nil, fmt.Errorf("open %s: %w (and a key file is damaged: %v)", c.Repo(), ErrWrongPassword, damaged)
	}
	return nil, fmt.Errorf("open %s: %w", c.Repo(), ErrWrongPassword)
}

func newRepository(c *Conn, m *keys.Master) *Repository {
	k := m.Derive()
	return &Repository{
		Conn: c, Master: m, Keys: k,
		Sealer:  seal.NewSealer(k),
		Gear:    chunker.NewGear(k.Gear),
		Chunker: m.Chunker,
	}
}

func defaultLabel() string {
	host, _ := os.Hostname()
	user := os.Getenv("USER")
	if user == "" {
		user = "user"
	}
	return user + "@" + host
}

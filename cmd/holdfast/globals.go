package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/cmd/internal/cafile"
)

// globals are the connection flags every command shares.
type globals struct {
	server       string
	token        string
	tokenFile    string
	repo         string
	passwordFile string
	caFile       string
}

func (g *globals) register(f *pflag.FlagSet) {
	f.StringVar(&g.server, "server", "", "server `URL` (default $HOLDFAST_SERVER)")
	f.StringVar(&g.token, "token", "", "bearer `TOKEN` (default $HOLDFAST_TOKEN)")
	f.StringVar(&g.tokenFile, "token-file", "", "read the bearer token from `FILE`")
	f.StringVar(&g.repo, "repo", "", "repository `NAME` (default $HOLDFAST_REPO)")
	f.StringVar(&g.passwordFile, "password-file", "", "read the repository password from `FILE` (default $HOLDFAST_PASSWORD, else a prompt)")
	f.StringVar(&g.caFile, "ca-file", "", "trust the CA certificates in PEM `FILE` instead of the system's, for an https server with a private CA (default $HOLDFAST_CA_FILE)")
}

// config resolves flags and environment into a client configuration.
// needRepo says whether the command works inside a repository.
func (g *globals) config(needRepo bool) (client.Config, error) {
	cfg := client.Config{
		Server: firstNonEmpty(g.server, os.Getenv("HOLDFAST_SERVER")),
		Token:  firstNonEmpty(g.token, os.Getenv("HOLDFAST_TOKEN")),
		Repo:   firstNonEmpty(g.repo, os.Getenv(defaultRepoE)),
	}
	if g.tokenFile != "" {
		b, err := os.ReadFile(g.tokenFile)
		if err != nil {
			return cfg, usagef("--token-file: %v", errors.Unwrap(err))
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	if ca := firstNonEmpty(g.caFile, os.Getenv("HOLDFAST_CA_FILE")); ca != "" {
		pool, err := cafile.Load(ca)
		if err != nil {
			return cfg, usageError{err}
		}
		cfg.RootCAs = pool
	}
	switch {
	case cfg.Server == "":
		return cfg, usagef("no server: set HOLDFAST_SERVER or pass --server URL")
	case !strings.HasPrefix(cfg.Server, "http://") && !strings.HasPrefix(cfg.Server, "https://"):
		return cfg, usagef("server %q: want an http:// or https:// URL", cfg.Server)
	case cfg.Token == "":
		return cfg, usagef("no token: set HOLDFAST_TOKEN or pass --token / --token-file")
	case needRepo && cfg.Repo == "":
		return cfg, usagef("no repository: set HOLDFAST_REPO or pass --repo NAME")
	}
	return cfg, nil
}

// conn dials the server (no keys needed).
func (g *globals) conn(needRepo bool) (*client.Conn, error) {
	cfg, err := g.config(needRepo)
	if err != nil {
		return nil, err
	}
	return client.Dial(cfg), nil
}

// open dials the server and unlocks the repository with the password.
func (g *globals) open(ctx context.Context) (*client.Repository, error) {
	u, err := g.startOpen(ctx)
	if err != nil {
		return nil, err
	}
	return u.Wait()
}

// startOpen dials the server, lists the repository's key files and starts
// unwrapping them with the password in the background.
func (g *globals) startOpen(ctx context.Context) (*client.Unlocking, error) {
	c, err := g.conn(true)
	if err != nil {
		return nil, err
	}
	pw, err := g.password(false)
	if err != nil {
		return nil, err
	}
	return client.StartOpen(ctx, c, pw)
}

// password reads the repository password from --password-file,
// HOLDFAST_PASSWORD, or a terminal prompt (twice when confirm is set).
func (g *globals) password(confirm bool) ([]byte, error) {
	if g.passwordFile != "" {
		b, err := os.ReadFile(g.passwordFile)
		if err != nil {
			return nil, usagef("--password-file: %v", errors.Unwrap(err))
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if pw := os.Getenv("HOLDFAST_PASSWORD"); pw != "" {
		return []byte(pw), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, usagef("no password: set HOLDFAST_PASSWORD or pass --password-file FILE")
	}
	pw, err := prompt("Repository password: ")
	if err != nil || !confirm {
		return pw, err
	}
	again, err := prompt("Repeat password: ")
	if err != nil {
		return nil, err
	}
	if string(again) != string(pw) {
		return nil, errors.New("passwords do not match")
	}
	return pw, nil
}

func prompt(msg string) ([]byte, error) {
	fmt.Fprint(os.Stderr, msg)
	defer fmt.Fprintln(os.Stderr)
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	if err != nil {
		line, rerr := bufio.NewReader(os.Stdin).ReadString('\n')
		return []byte(strings.TrimRight(line, "\r\n")), rerr
	}
	return pw, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

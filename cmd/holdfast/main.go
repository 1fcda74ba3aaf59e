package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/cmd/internal/cafile"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/internal/hugeheap"
)

// Exit codes (CONTRACT.md).
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitPartial  = 3 // backup finished but some files could not be read
	exitRefused  = 4 // authentication or permission
	defaultRepoE = "HOLDFAST_REPO"
)

// usageError marks an error in how the command was called (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries a specific exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// commands are the subcommands; each file adds its own in an init function,
// so commands live beside their code and main stays wiring.
var commands []func(g *globals) *cobra.Command

func register(f func(g *globals) *cobra.Command) { commands = append(commands, f) }

func main() {
	// Before anything allocates: the heap grows into huge pages. A first
	// backup of 2 GiB took 74-76k page faults without them and 3-5k with
	// them (see package hugeheap). A backup or restore peaks under 512 MiB.
	if err := hugeheap.CheckEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "holdfast: %v\n", err)
	}
	hugeheap.AdviseHeap(512 << 20)
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	g := &globals{}
	root := &cobra.Command{
		Use:   "holdfast",
		Short: "Holdfast backup client",
		Long: `holdfast backs up paths, Docker volumes and containers, and Kubernetes
volumes to a holdfastd repository server, encrypting everything before it
leaves the machine, and restores them.

Connection settings come from flags or the environment:
  HOLDFAST_SERVER    server URL, e.g. http://127.0.0.1:8433   (--server)
  HOLDFAST_TOKEN     bearer token                            (--token, --token-file)
  HOLDFAST_REPO      repository name                         (--repo)
  HOLDFAST_PASSWORD  repository password                     (--password-file)
  HOLDFAST_CA_FILE   CA certificates to trust (PEM file)     (--ca-file)

Exit codes: 0 success, 1 failure, 2 usage error, 3 backup finished but some
files could not be read, 4 refused (authentication or permission).`,
		Version:       format.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	g.register(root.PersistentFlags())
	for _, newCmd := range commands {
		root.AddCommand(newCmd(g))
	}
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	err = cafile.Explain(err, "--ca-file FILE or HOLDFAST_CA_FILE")
	fmt.Fprintf(os.Stderr, "holdfast: %v\n", err)
	return exitCode(err)
}

func exitCode(err error) int {
	var usage usageError
	var coded exitError
	switch {
	case errors.As(err, &coded):
		return coded.code
	case errors.As(err, &usage):
		return exitUsage
	case errors.Is(err, client.ErrDenied):
		return exitRefused
	}
	return exitFailure
}

// exactArgs and rangeArgs report wrong argument counts as usage errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %d argument(s), got %d", n, len(args))
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usagef("want %d to %d arguments, got %d", lo, hi, len(args))
		}
		return nil
	}
}

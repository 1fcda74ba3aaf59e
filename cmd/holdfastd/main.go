package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/internal/hugeheap"
	"github.com/holdfast-backup/holdfast/internal/mallocarena"
)

// Exit codes (CONTRACT.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error caused by how the command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	// Before the index allocates: its cache lives in C memory in a cgo
	// build, and uncapped arenas kept tens of MiB of it resident.
	mallocarena.Limit(2)
	// And the heap grows into huge pages: a first backup of 2 GiB took
	// about 96,000 page faults without them and 1,000 with them (see
	// package hugeheap).
	if err := hugeheap.CheckEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "holdfastd: %v\n", err)
	}
	hugeheap.AdviseHeap(1 << 30)
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "holdfastd: %v\n", err)
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(os.Stderr, "Run 'holdfastd --help' for usage.")
		return exitUsage
	}
	return exitFailure
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "holdfastd",
		Short: "Holdfast repository server",
		Long: `holdfastd stores deduplicated, client-encrypted, erasure-coded backups of
container volumes and serves them to the holdfast client over Connect-RPC.

Start it with 'holdfastd serve'; the first start creates the data directory.`,
		Version:       format.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCommand(), newScrubCommand(), newRebuildIndexCommand())
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

func init() {
	register(newLockCommand)
	register(newUnlockCommand)
}

func newLockCommand(g *globals) *cobra.Command {
	var until, mode string
	cmd := &cobra.Command{
		Use:   "lock SNAPSHOT --until RFC3339 --mode governance|compliance",
		Short: "Protect a snapshot from forget and GC until a date",
		Long: `Lock a snapshot until a date (RFC 3339, e.g. 2027-01-31T00:00:00Z), judged by
the server's clock. A locked snapshot cannot be forgotten or deleted, and
nothing it references is collected; on S3 stores with Object Lock its
objects get a retention date too.

  governance  an admin may shorten or lift it (holdfast unlock)
  compliance  nobody — no admin, not the server admin — can shorten, lift
              or weaken it before it expires; it can only be extended

Running lock again on a locked snapshot extends it (or, for governance,
changes it). The server caps the date (holdfastd serve --max-lock).
Needs an admin token; no password.`,
		Example: `  holdfast lock latest --until 2027-01-01T00:00:00Z --mode governance
  holdfast lock 3fa4b2c1 --until 2033-06-30T00:00:00Z --mode compliance`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if until == "" || mode == "" {
				return usagef("lock needs --until TIME and --mode governance|compliance")
			}
			t, err := time.Parse(time.RFC3339, until)
			if err != nil {
				return usagef("--until %q: want an RFC 3339 time such as 2027-01-31T00:00:00Z", until)
			}
			var m holdfastv1.LockMode
			switch mode {
			case "governance":
				m = holdfastv1.LockMode_LOCK_MODE_GOVERNANCE
			case "compliance":
				m = holdfastv1.LockMode_LOCK_MODE_COMPLIANCE
			default:
				return usagef("--mode %q: want governance or compliance", mode)
			}
			c, err := g.conn(true)
			if err != nil {
				return err
			}
			ids, err := c.ResolveIDs(cmd.Context(), args)
			if err != nil {
				return err
			}
			l, err := c.Lock(cmd.Context(), ids[0], m, t)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot %s locked (%s) until %s\n", ids[0], lockModeName(l.Mode),
				time.Unix(0, l.UntilUnixNano).UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&until, "until", "", "lock until this RFC 3339 `TIME` (required)")
	cmd.Flags().StringVar(&mode, "mode", "", "`governance` or `compliance` (required)")
	return cmd
}

func newUnlockCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock SNAPSHOT",
		Short: "Lift a snapshot's governance lock",
		Long: `Lift a snapshot's governance lock (or a lock that has expired). A compliance
lock cannot be lifted by anyone before it expires: the server refuses, and
holdfast exits with code 4. Needs an admin token; no password.`,
		Example: `  holdfast unlock 3fa4b2c1`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.conn(true)
			if err != nil {
				return err
			}
			ids, err := c.ResolveIDs(cmd.Context(), args)
			if err != nil {
				return err
			}
			if err := c.Unlock(cmd.Context(), ids[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot %s unlocked\n", ids[0])
			return nil
		},
	}
}

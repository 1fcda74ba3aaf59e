package main

import (
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/client"
)

func init() { register(newInitCommand) }

func newInitCommand(g *globals) *cobra.Command {
	var label string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the repository's keys (admin token of the repository)",
		Long: `Create the repository's master key, wrap it with the password and store the
wrapped key file on the server, then print the repository's ID.

The password comes from --password-file, HOLDFAST_PASSWORD, or is asked
twice on the terminal. Everything is encrypted with keys only this password
unlocks: without it the backups cannot be read, by you or anyone else, so
keep it somewhere safe. init refuses a repository that already has keys.`,
		Example: `  export HOLDFAST_SERVER=http://backup.example:8433 HOLDFAST_REPO=web01
  export HOLDFAST_TOKEN=$(cat web01-admin.token)
  holdfast init`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.conn(true)
			if err != nil {
				return err
			}
			pw, err := g.password(true)
			if err != nil {
				return err
			}
			if len(pw) == 0 {
				return usagef("empty password")
			}
			r, err := client.Init(cmd.Context(), c, pw, client.InitOptions{Label: label})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "initialized repository %s (chunks %s); keep the password safe: without it nothing can be restored\n",
				c.Repo(), r.Chunker)
			fmt.Fprintln(cmd.OutOrStdout(), hex.EncodeToString(r.Master.RepoID[:]))
			return nil
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "who the key file is for (default user@host)")
	return cmd
}

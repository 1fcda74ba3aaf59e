package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/client"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

func init() { register(newAdminCommand) }

// adminCommands are further subcommands of "holdfast admin"; a file adds
// its own with registerAdmin in an init function, like register.
var adminCommands []func(g *globals) *cobra.Command

func registerAdmin(f func(g *globals) *cobra.Command) { adminCommands = append(adminCommands, f) }

func newAdminCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer the server: repositories and tokens",
		Long: `Administration of a holdfastd server. Creating repositories needs the
server-admin token (DATA/admin.token on the server); creating tokens needs
the server-admin token or an admin token of the repository.`,
		Args: exactArgs(0),
	}
	repo := &cobra.Command{Use: "repo", Short: "Create, list and promote repositories", Args: exactArgs(0)}
	repo.AddCommand(newAdminRepoCreate(g), newAdminRepoList(g), newAdminRepoPromote(g))
	token := &cobra.Command{Use: "token", Short: "Create tokens", Args: exactArgs(0)}
	token.AddCommand(newAdminTokenCreate(g))
	cmd.AddCommand(repo, token)
	for _, f := range adminCommands {
		cmd.AddCommand(f(g))
	}
	return cmd
}

func newAdminRepoCreate(g *globals) *cobra.Command {
	var replica bool
	cmd := &cobra.Command{
		Use:   "create NAME [--replica]",
		Short: "Create a repository (server-admin token)",
		Long: `Create an empty repository on the server. Names are 1 to 63 characters of
a-z, 0-9 and '-', starting with a letter or digit. A new repository has no
keys yet: create an admin token for it and run 'holdfast init'.

With --replica the repository is a read-only replication target: only
replicate tokens may upload to it (its keys and snapshots arrive by
replication), every role may read and restore from it, and
'holdfast admin repo promote NAME' turns it into an ordinary repository.`,
		Example: `  export HOLDFAST_SERVER=http://127.0.0.1:8433
  HOLDFAST_TOKEN=$(cat /var/lib/holdfast/admin.token) holdfast admin repo create web01
  HOLDFAST_TOKEN=$(cat /var/lib/holdfast/admin.token) holdfast admin repo create web01 --replica`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.conn(false)
			if err != nil {
				return err
			}
			_, err = c.Repos.CreateRepo(cmd.Context(), connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: args[0]}))
			// With --replica an existing repository is marked, so a run
			// that failed between the two calls can simply be repeated.
			existed := replica && connect.CodeOf(err) == connect.CodeAlreadyExists
			if err != nil && !existed {
				return adminRPCError("create repository "+args[0], err)
			}
			if replica {
				// Until the flag is set the new repository has no token
				// but the server admin's: nobody else can write in between.
				_, err := c.Replication.SetReplica(cmd.Context(), connect.NewRequest(&holdfastv1.SetReplicaRequest{Repo: args[0], Replica: true}))
				if err != nil {
					return adminRPCError("mark repository "+args[0]+" as a replica", err)
				}
				verb := "created"
				if existed {
					verb = "marked existing"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s replica repository %s\n", verb, args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created repository %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&replica, "replica", false, "create a read-only replication target")
	return cmd
}

func newAdminRepoPromote(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "promote NAME",
		Short: "Make a replica take backups (failover; server-admin token)",
		Long: `Clear the replica flag of a repository, so that backup and admin tokens may
upload and commit to it again: failover, on the replica site, when the
source site is lost. Stop replication into it first (revoke the source's
replicate token): replicate tokens may still write to a promoted
repository, and two sources writing into one make a mixed history.`,
		Example: `  HOLDFAST_TOKEN=$(cat /var/lib/holdfast/admin.token) holdfast admin repo promote web01`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.conn(false)
			if err != nil {
				return err
			}
			_, err = c.Replication.SetReplica(cmd.Context(), connect.NewRequest(&holdfastv1.SetReplicaRequest{Repo: args[0], Replica: false}))
			if err != nil {
				return adminRPCError("promote repository "+args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "promoted repository %s: it now accepts backups\n", args[0])
			return nil
		},
	}
}

func newAdminRepoList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List repositories, one name per line (server-admin token)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.conn(false)
			if err != nil {
				return err
			}
			resp, err := c.Repos.ListRepos(cmd.Context(), connect.NewRequest(&holdfastv1.ListReposRequest{}))
			if err != nil {
				return adminRPCError("list repositories", err)
			}
			for _, n := range resp.Msg.Names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
}

func newAdminTokenCreate(g *globals) *cobra.Command {
	var role, ttl, label string
	var serverAdmin bool
	cmd := &cobra.Command{
		Use:   "create --repo NAME --role ROLE [--ttl DUR] [--label TEXT]",
		Short: "Create a token and print it alone on stdout",
		Long: `Create a bearer token for a repository and print it, alone, on stdout. The
server keeps only its hash: it cannot be shown again.

Roles:
  backup     upload and commit snapshots, list and read (append only)
  restore    list and read
  admin      everything inside the repository, including tokens
  replicate  a replication target: upload, commit with given IDs, list

--server-admin creates a server-wide admin token instead (needs one).`,
		Example: `  # a backup token for web01 that expires in 90 days
  holdfast admin token create --repo web01 --role backup --ttl 90d --label web01-cron > web01.token
  HOLDFAST_TOKEN=$(cat web01.token) holdfast backup /srv/www`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &holdfastv1.CreateTokenRequest{Label: label}
			if serverAdmin {
				req.Role = holdfastv1.Role_ROLE_ADMIN
			} else {
				r, ok := holdfastv1.Role_value["ROLE_"+strings.ToUpper(role)]
				if role == "" || !ok || r == 0 {
					return usagef("--role %q: want backup, restore, admin or replicate", role)
				}
				req.Role = holdfastv1.Role(r)
			}
			if ttl != "" {
				d, err := parseTTL(ttl)
				if err != nil {
					return usagef("--ttl %q: %v", ttl, err)
				}
				req.TtlSeconds = int64(d / time.Second)
			}
			cfg, err := g.config(!serverAdmin)
			if err != nil {
				return err
			}
			if !serverAdmin {
				req.Repo = cfg.Repo
			}
			c, _ := g.conn(false)
			resp, err := c.Tokens.CreateToken(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return adminRPCError("create token", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.Msg.Token)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "`ROLE` of the token: backup, restore, admin or replicate")
	f.StringVar(&ttl, "ttl", "", "lifetime `DUR`, e.g. 12h or 90d (default: no expiry)")
	f.StringVar(&label, "label", "", "free `TEXT` shown when tokens are listed")
	f.BoolVar(&serverAdmin, "server-admin", false, "create a server-admin token (no --repo, no --role)")
	return cmd
}

// parseTTL parses a Go duration, or a whole number of days with suffix d.
func parseTTL(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("want a duration such as 12h or 90d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("want a duration such as 12h or 90d")
		}
	}
	if d < time.Second {
		return 0, fmt.Errorf("want at least 1s")
	}
	return d, nil
}

// adminRPCError turns an RPC error into one line; a refused token wraps
// client.ErrDenied (exit code 4).
func adminRPCError(op string, err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch ce.Code() {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return fmt.Errorf("%s: %w: %s", op, client.ErrDenied, ce.Message())
	case connect.CodeInvalidArgument, connect.CodeAlreadyExists, connect.CodeNotFound:
		return fmt.Errorf("%s: %s", op, ce.Message())
	}
	return fmt.Errorf("%s: %s: %s", op, ce.Code(), ce.Message())
}

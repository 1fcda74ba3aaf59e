package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/holdfast-backup/holdfast/cmd/internal/cafile"
	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

func init() { registerAdmin(newAdminReplicate) }

type replicateFlags struct {
	to, toToken, toTokenFile, toRepo string
	toCAFile                         string
	continuous, prune, json          bool
	bwlimit                          int64
	parallel                         int32
}

func newAdminReplicate(g *globals) *cobra.Command {
	var f replicateFlags
	cmd := &cobra.Command{
		Use:   "replicate --to URL (--to-token TOKEN | --to-token-file FILE) [--repo NAME] [--continuous]",
		Short: "Push a repository's snapshots to another server",
		Long: `Ask the server (HOLDFAST_SERVER, with an admin token of the repository or the
server-admin token) to push the repository's snapshots to another holdfastd.
The source server does the work: it copies key files, the chunks the
target lacks (sealed, as stored: neither server needs a key) and commits
each snapshot with the same ID, oldest first. A rerun sends nothing twice;
an interrupted run continues where it stopped.

The target repository must exist and --to-token must be one of its replicate
tokens. Mark it a read-only replica with 'holdfast admin repo create NAME
--replica' on the target; 'holdfast admin repo promote NAME' makes it take
backups after a failover.

With --continuous the command keeps running and each new snapshot is
replicated within seconds, until interrupted. For replication without a
client, configure targets in holdfastd (--replicate-config).

The source server checks an https target's certificate against its system
CAs, or with --to-ca-file against the CA certificates in that PEM file
(sent to the server with the request). --ca-file is for this command's own
connection to the source server.`,
		Example: `  holdfast admin replicate --repo web01 --to https://dr.example:8433 --to-token-file dr.token
  holdfast admin replicate --repo web01 --to https://dr.example:8433 --to-token-file dr.token \
      --continuous --parallel 4 --bwlimit 50000000`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runReplicate(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "target server `URL`")
	fl.StringVar(&f.toToken, "to-token", "", "replicate `TOKEN` of the target repository")
	fl.StringVar(&f.toTokenFile, "to-token-file", "", "read the target token from `FILE`")
	fl.StringVar(&f.toRepo, "to-repo", "", "target repository `NAME` (default: the same name)")
	fl.StringVar(&f.toCAFile, "to-ca-file", "", "the source server trusts the CA certificates in PEM `FILE` for an https target")
	fl.BoolVar(&f.continuous, "continuous", false, "keep replicating each new snapshot until interrupted")
	fl.BoolVar(&f.prune, "prune", false, "delete snapshots on the target (a replica) that the source no longer has")
	fl.Int64Var(&f.bwlimit, "bwlimit", 0, "limit chunk traffic to `BYTES` per second (0: unlimited)")
	fl.Int32Var(&f.parallel, "parallel", 1, "parallel chunk streams (`N`, 1 to 16)")
	fl.BoolVar(&f.json, "json", false, "print progress as JSON lines")
	return cmd
}

func runReplicate(cmd *cobra.Command, g *globals, f replicateFlags) error {
	token, err := f.token()
	if err != nil {
		return err
	}
	switch {
	case f.to == "":
		return usagef("--to URL is required")
	case !strings.HasPrefix(f.to, "http://") && !strings.HasPrefix(f.to, "https://"):
		return usagef("--to %q: want an http:// or https:// URL", f.to)
	case f.parallel < 1 || f.parallel > 16:
		return usagef("--parallel %d: want 1 to 16", f.parallel)
	case f.bwlimit < 0:
		return usagef("--bwlimit %d: want bytes per second, 0 for none", f.bwlimit)
	}
	var caPEM []byte
	if f.toCAFile != "" {
		if caPEM, err = cafile.Read(f.toCAFile); err != nil {
			return usagef("--to-ca-file: %v", err)
		}
	}
	c, err := g.conn(true)
	if err != nil {
		return err
	}
	// SIGINT/SIGTERM end a continuous run cleanly (exit 0); the server
	// sees the cancel and stops between or inside passes, never leaving a
	// half-committed snapshot on the target.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stream, err := c.Replication.Replicate(ctx, connect.NewRequest(&holdfastv1.ReplicateRequest{
		Repo: c.Repo(), TargetUrl: f.to, TargetToken: token, TargetRepo: f.toRepo,
		Continuous: f.continuous, Prune: f.prune, Bwlimit: f.bwlimit, Parallel: f.parallel,
		TargetCaPem: caPEM,
	}))
	if err != nil {
		return adminRPCError("replicate", err)
	}
	defer stream.Close()
	out := cmd.OutOrStdout()
	for stream.Receive() {
		printReplicateEvent(out, stream.Msg(), f.json)
	}
	if err := stream.Err(); err != nil {
		if f.continuous && ctx.Err() != nil {
			return nil // interrupted: the normal end of a continuous run
		}
		return adminRPCError("replicate", err)
	}
	return nil
}

// token returns the target token from --to-token or --to-token-file.
func (f replicateFlags) token() (string, error) {
	switch {
	case f.toToken != "" && f.toTokenFile != "":
		return "", usagef("give --to-token or --to-token-file, not both")
	case f.toTokenFile != "":
		b, err := os.ReadFile(f.toTokenFile)
		if err != nil {
			return "", usagef("--to-token-file: %v", errors.Unwrap(err))
		}
		return strings.TrimSpace(string(b)), nil
	case f.toToken != "":
		return f.toToken, nil
	}
	return "", usagef("--to-token TOKEN or --to-token-file FILE is required")
}

// replicateEvent is the JSON form of one progress message.
type replicateEvent struct {
	MessageType      string     `json:"message_type"` // snapshot, pass, error
	SnapshotID       *format.ID `json:"snapshot_id,omitempty"`
	SnapshotsCopied  int64      `json:"snapshots_copied"`
	SnapshotsPresent int64      `json:"snapshots_present"`
	SnapshotsPruned  int64      `json:"snapshots_pruned"`
	ChunksSent       int64      `json:"chunks_sent"`
	ChunkBytesSent   int64      `json:"chunk_bytes_sent"`
	KeyFilesSent     int64      `json:"key_files_sent"`
	LagSnapshots     int64      `json:"lag_snapshots"`
	Error            string     `json:"error,omitempty"`
}

func printReplicateEvent(w io.Writer, m *holdfastv1.ReplicateResponse, asJSON bool) {
	ev := replicateEvent{
		MessageType:     "snapshot",
		SnapshotsCopied: m.GetSnapshotsCopied(), SnapshotsPresent: m.GetSnapshotsPresent(), SnapshotsPruned: m.GetSnapshotsPruned(),
		ChunksSent: m.GetChunksSent(), ChunkBytesSent: m.GetChunkBytesSent(), KeyFilesSent: m.GetKeyFilesSent(),
		LagSnapshots: m.GetLagSnapshots(), Error: m.GetError(),
	}
	switch {
	case m.GetError() != "":
		ev.MessageType = "error"
	case m.GetPassDone():
		ev.MessageType = "pass"
	default:
		if id, err := format.IDFromBytes(m.GetSnapshotId()); err == nil {
			ev.SnapshotID = &id
		}
	}
	if asJSON {
		b, _ := json.Marshal(ev)
		fmt.Fprintln(w, string(b))
		return
	}
	switch ev.MessageType {
	case "error":
		fmt.Fprintf(w, "pass failed, retrying after backoff: %s\n", ev.Error)
	case "pass":
		fmt.Fprintf(w, "pass done: %d snapshots copied, %d already there, %d pruned, %d chunks (%d bytes) sent\n",
			ev.SnapshotsCopied, ev.SnapshotsPresent, ev.SnapshotsPruned, ev.ChunksSent, ev.ChunkBytesSent)
	default:
		fmt.Fprintf(w, "replicated %s (%d chunks, %d bytes sent so far)\n", ev.SnapshotID, ev.ChunksSent, ev.ChunkBytesSent)
	}
}

package server

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestReplicaFlagRules checks the authorization a replica adds (SPEC.md
// §12.5): only replicate tokens write; replicate may delete (prune) only
// in a replica; promotion restores the ordinary matrix.
func TestReplicaFlagRules(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	begin := func(p string) error {
		_, err := f.as(p).upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: "alpha"}))
		return err
	}
	del := func(p string) error {
		_, err := f.as(p).snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: "alpha", Id: make([]byte, 32)}))
		return err
	}
	putKey := func(p string) error {
		_, err := f.as(p).repo.PutKeyFile(ctx, connect.NewRequest(&holdfastv1.PutKeyFileRequest{Repo: "alpha", KeyFile: []byte("x")}))
		return err
	}
	setReplica := func(p string, on bool) error {
		_, err := f.as(p).repl.SetReplica(ctx, connect.NewRequest(&holdfastv1.SetReplicaRequest{Repo: "alpha", Replica: on}))
		return err
	}
	authWant(t, "replicate prunes an ordinary repository", del("replicate"), connect.CodePermissionDenied)
	authWant(t, "repository admin sets the replica flag", setReplica("admin", true), connect.CodePermissionDenied)
	authWant(t, "server admin sets the replica flag", setReplica("server", true), 0)

	for _, p := range []string{"backup", "admin", "server"} {
		authWant(t, p+" uploads to a replica", begin(p), connect.CodePermissionDenied)
	}
	authWant(t, "admin puts a key file into a replica", putKey("admin"), connect.CodePermissionDenied)
	authWant(t, "replicate uploads to a replica", begin("replicate"), 0)
	authWant(t, "replicate puts a key file into a replica", putKey("replicate"), connect.CodeInvalidArgument)
	authWant(t, "replicate prunes a replica", del("replicate"), connect.CodeNotFound)
	authWant(t, "admin deletes in a replica", del("admin"), connect.CodeNotFound)
	authWant(t, "backup deletes in a replica", del("backup"), connect.CodePermissionDenied)

	authWant(t, "promote", setReplica("server", false), 0)
	authWant(t, "promote again (no change)", setReplica("server", false), 0)
	authWant(t, "backup uploads after promotion", begin("backup"), 0)
	authWant(t, "replicate prunes after promotion", del("replicate"), connect.CodePermissionDenied)
	_, err := f.as("server").repl.SetReplica(ctx, connect.NewRequest(&holdfastv1.SetReplicaRequest{Repo: "no-such"}))
	authWant(t, "promote an absent repository", err, connect.CodeNotFound)
}

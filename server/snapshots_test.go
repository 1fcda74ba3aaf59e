package server

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// commitSnapshots commits n small snapshots through the API.
func commitSnapshots(t *testing.T, f *upFixture, n int) []format.ID {
	t.Helper()
	c := f.client(f.backup, false)
	var out []format.ID
	for i := range n {
		chunks := sealChunks(t, fmt.Sprintf("snap-%d", i), 3, 2000)
		h, refs := upHeader(t, chunks, fmt.Sprintf("host-%d", i))
		res, err := c.backupRun(context.Background(), chunks, h, refs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.snap)
	}
	return out
}

// listAll pages through ListSnapshots and returns the IDs and page sizes.
func listAll(t *testing.T, c *upClient, size uint32) ([]format.ID, []int) {
	t.Helper()
	var ids []format.ID
	var pages []int
	var token []byte
	for {
		resp, err := c.snap.ListSnapshots(context.Background(), connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: c.repo, PageSize: size, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, len(resp.Msg.Snapshots))
		for _, s := range resp.Msg.Snapshots {
			ids = append(ids, format.ID(s.Id))
		}
		if token = resp.Msg.NextPageToken; len(token) == 0 {
			return ids, pages
		}
		if len(pages) > 100 {
			t.Fatal("paging does not end")
		}
	}
}

func TestListSnapshotsPaging(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	want := commitSnapshots(t, f, 7)
	c := f.client(f.restore, false)
	for _, tc := range []struct {
		size  uint32
		pages string
	}{{3, "[3 3 1]"}, {7, "[7]"}, {1, "[1 1 1 1 1 1 1]"}, {0, "[7]"}, {5000, "[7]"}} {
		ids, pages := listAll(t, c, tc.size)
		if fmt.Sprint(pages) != tc.pages {
			t.Errorf("page size %d: pages %v, want %s", tc.size, pages, tc.pages)
		}
		if len(ids) != len(want) {
			t.Fatalf("page size %d: %d snapshots, want %d", tc.size, len(ids), len(want))
		}
		for i := 1; i < len(ids); i++ {
			if ids[i-1].Compare(ids[i]) >= 0 {
				t.Fatalf("page size %d: not in ascending ID order", tc.size)
			}
		}
	}
	// A token past the last snapshot gives an empty last page.
	last, _ := listAll(t, c, 0)
	resp, err := c.snap.ListSnapshots(context.Background(), connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: f.repo, PageToken: last[len(last)-1][:]}))
	if err != nil || len(resp.Msg.Snapshots) != 0 || len(resp.Msg.NextPageToken) != 0 {
		t.Fatalf("after the last: %v, %v", resp, err)
	}
}

// TestDeleteSnapshot deletes one snapshot, refuses a locked one and a
// backup token, and shows locks in GetSnapshot and ListSnapshots.
func TestDeleteSnapshot(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	snaps := commitSnapshots(t, f, 3)
	locked, victim := snaps[0], snaps[1]
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b := f.eng.Index().NewBatch()
	b.PutLock(f.id, locked, indexkey.LockRecord{Mode: indexkey.LockCompliance, Until: until, Set: f.clock.Now()})
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	admin := f.client(f.admin, true)

	get, err := admin.snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: f.repo, Id: locked[:]}))
	if err != nil {
		t.Fatal(err)
	}
	if l := get.Msg.Snapshot.Lock; l == nil || l.Mode != holdfastv1.LockMode_LOCK_MODE_COMPLIANCE || l.UntilUnixNano != until.UnixNano() {
		t.Fatalf("lock: %v", get.Msg.Snapshot.Lock)
	}
	list, err := admin.snap.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: f.repo}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Msg.Snapshots {
		if isLocked := bytes.Equal(s.Id, locked[:]); isLocked != (s.Lock != nil) {
			t.Fatalf("snapshot %x: lock %v", s.Id[:4], s.Lock)
		}
	}

	_, err = admin.snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: f.repo, Id: locked[:]}))
	// A compliance lock refuses everyone: permission_denied (§13.2).
	wantCode(t, "delete locked", err, connect.CodePermissionDenied)
	_, err = f.client(f.backup, false).snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: f.repo, Id: victim[:]}))
	wantCode(t, "delete with a backup token", err, connect.CodePermissionDenied)

	refs := readRefs(t, admin, victim)
	if n := countObjects(t, f, victim.String()); n != 4 { // header and refs, m+1 = 2 copies each
		t.Fatalf("%d objects of the snapshot before delete, want 4", n)
	}
	if _, err := admin.snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: f.repo, Id: victim[:]})); err != nil {
		t.Fatal(err)
	}
	_, err = admin.snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: f.repo, Id: victim[:]}))
	wantCode(t, "get deleted", err, connect.CodeNotFound)
	_, err = admin.snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: f.repo, Id: victim[:]}))
	wantCode(t, "delete again", err, connect.CodeNotFound)
	if ids, _ := listAll(t, admin, 0); len(ids) != 2 {
		t.Fatalf("%d snapshots listed after delete, want 2", len(ids))
	}
	// Its objects are gone from every store; the others' remain.
	if n := countObjects(t, f, victim.String()); n != 0 {
		t.Fatalf("%d objects of the deleted snapshot left", n)
	}
	for _, id := range []format.ID{locked, snaps[2]} {
		readRefs(t, admin, id)
	}
	// Its chunks stay until GC.
	missing, err := f.eng.Missing(f.id, refs)
	if err != nil || len(missing) != 0 {
		t.Fatalf("chunks of the deleted snapshot: %d missing, %v", len(missing), err)
	}
}

// countObjects counts the snapshot objects on every store whose name
// contains sub.
func countObjects(t *testing.T, f *upFixture, sub string) int {
	t.Helper()
	n := 0
	for _, s := range f.stores {
		err := s.Backend.List(context.Background(), f.repo+"/snapshots/", func(i backend.Info) error {
			if strings.Contains(string(i.Name), sub) {
				n++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

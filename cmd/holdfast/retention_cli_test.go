package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/server"
)

// cliGC stands in for gc.Run: it reports fixed numbers, so the test sees
// the CLI print what the server sent.
func cliGC(_ context.Context, _ uint32, dryRun bool, _ func(server.GCProgress)) (*holdfastv1.GCReport, error) {
	return &holdfastv1.GCReport{DryRun: dryRun, Snapshots: 2, ChunksLive: 10, ChunksDead: 3, PacksDeleted: 1,
		BytesFreed: 4096, StoredBytesFreed: 6144, DurationNanos: int64(1500 * time.Millisecond)}, nil
}

// TestCLIRetention runs forget, lock, unlock and gc through the binary:
// every one refused (exit 4) to a backup token; compliance refusals
// (exit 4) for the repository admin and the server admin alike; policy
// forget with --dry-run and --json; a lock shown by snapshots --json;
// forget after a lock expires; usage errors (exit 2).
func TestCLIRetention(t *testing.T) {
	srv := newCLIServerWith(t, server.Options{CollectGarbage: cliGC})
	admin, backup, restore := cliSetup(t, srv, "ret")
	serverAdmin := admin
	serverAdmin.token = srv.admin
	dir := t.TempDir()
	var ids []string
	for i := range 3 {
		os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("x", i+1)), 0o644)
		ids = append(ids, backup.run(t, "backup", dir, "--host", "h1").want(t, 0, "backup").lastLine())
	}
	first, middle, latest := ids[0], ids[1], ids[2]
	for _, s := range snapshotsJSON(t, admin) {
		if s.Lock != nil {
			t.Fatalf("unlocked snapshot shows lock %+v", s.Lock)
		}
	}
	hour := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, e := range []cliEnv{backup, restore} {
		for _, args := range [][]string{
			{"forget", middle}, {"forget", "--keep-last", "1"}, {"forget", "--keep-last", "1", "--dry-run"},
			{"lock", middle, "--until", hour, "--mode", "governance"}, {"unlock", middle}, {"gc"}, {"gc", "--dry-run"},
		} {
			r := e.run(t, args...).want(t, exitRefused, strings.Join(args, " ")+" without admin")
			if !strings.Contains(r.stderr, "permission denied") {
				t.Errorf("%v: stderr %q does not say permission denied", args, r.stderr)
			}
		}
	}

	admin.run(t, "lock", first[:8], "--until", hour, "--mode", "compliance").want(t, 0, "compliance lock")
	locks := map[string]*lockJSON{}
	for _, s := range snapshotsJSON(t, restore) {
		locks[s.ID] = s.Lock
	}
	if l := locks[first]; l == nil || l.Mode != "compliance" || l.Until != hour || locks[middle] != nil {
		t.Fatalf("snapshots --json locks: first %+v, middle %+v", l, locks[middle])
	}
	shorter := time.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
	backup.run(t, "lock", first, "--until", shorter, "--mode", "compliance").want(t, exitRefused, "shorten as backup")
	for _, e := range []cliEnv{admin, serverAdmin} {
		for _, args := range [][]string{
			{"unlock", first}, {"lock", first, "--until", shorter, "--mode", "compliance"},
			{"lock", first, "--until", hour, "--mode", "governance"}, {"forget", first},
		} {
			r := e.run(t, args...).want(t, exitRefused, strings.Join(args, " ")+" under compliance")
			if !strings.Contains(r.stderr, "compliance lock") {
				t.Errorf("%v: stderr %q does not say why", args, r.stderr)
			}
		}
	}

	// Policy: keep the newest; the locked first one stays with its reason.
	r := admin.run(t, "forget", "--keep-last", "1", "--dry-run", "--json").want(t, 0, "forget --dry-run --json")
	var plan forgetJSON
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		t.Fatalf("forget --json: %v: %s", err, r.stdout)
	}
	reasons := map[string]string{}
	for _, v := range plan.Kept {
		reasons[v.ID] = strings.Join(v.Reasons, ",")
	}
	if !plan.DryRun || len(plan.Removed) != 1 || plan.Removed[0].ID != middle || reasons[latest] != "last snapshot" ||
		!strings.HasPrefix(reasons[first], "locked (compliance) until ") || plan.Kept[0].Source.Kind != "path" {
		t.Fatalf("dry-run plan: %s", r.stdout)
	}
	if n := len(snapshotsJSON(t, admin)); n != 3 {
		t.Fatalf("dry run removed snapshots: %d left", n)
	}
	r = admin.run(t, "forget", "--keep-last", "1").want(t, 0, "forget --keep-last 1")
	if !strings.Contains(r.stdout, "Removed 1 snapshot(s)") || !strings.Contains(r.stdout, "last snapshot") {
		t.Errorf("forget output:\n%s", r.stdout)
	}
	var left []string
	for _, s := range snapshotsJSON(t, admin) {
		left = append(left, s.ID)
	}
	if !slices.Equal(left, []string{first, latest}) {
		t.Fatalf("after forget: %q, want first and latest", left)
	}

	// Governance: forgetting needs an unlock first (exit 1, not 4).
	admin.run(t, "lock", "latest", "--until", hour, "--mode", "governance").want(t, 0, "governance lock")
	r = admin.run(t, "forget", "latest").want(t, exitFailure, "forget under governance")
	if !strings.Contains(r.stderr, "unlock it first") {
		t.Errorf("forget under governance: %q", r.stderr)
	}
	admin.run(t, "unlock", "latest").want(t, 0, "unlock governance")

	// A compliance lock that expires: forget works afterwards.
	soon := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	admin.run(t, "lock", latest, "--until", soon.UTC().Format(time.RFC3339), "--mode", "compliance").want(t, 0, "short compliance lock")
	admin.run(t, "forget", latest).want(t, exitRefused, "forget before expiry")
	time.Sleep(time.Until(soon) + 100*time.Millisecond)
	admin.run(t, "forget", latest).want(t, 0, "forget after expiry")

	r = admin.run(t, "gc", "--json").want(t, 0, "gc --json")
	var g gcJSON
	if err := json.Unmarshal([]byte(r.stdout), &g); err != nil || g.ChunksDead != 3 || g.BytesFreed != 4096 || g.DryRun || g.DurationS != 1.5 {
		t.Fatalf("gc --json: %v: %s", err, r.stdout)
	}
	r = admin.run(t, "gc", "--dry-run").want(t, 0, "gc --dry-run")
	if !strings.Contains(r.stdout, "would free") {
		t.Errorf("gc --dry-run output:\n%s", r.stdout)
	}

	for _, args := range [][]string{
		{"forget"}, {"forget", "--tag", "x"}, {"forget", "--keep-within", "3 days"}, {"forget", "--keep-daily", "-2"},
		{"lock", first}, {"lock", first, "--until", "tomorrow", "--mode", "governance"},
		{"lock", first, "--until", hour, "--mode", "forever"}, {"unlock"}, {"gc", "extra"},
	} {
		admin.run(t, args...).want(t, exitUsage, strings.Join(args, " "))
	}
}

package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// holdSessions wraps the API so that, while hold is set, BeginSession
// requests announce themselves on reached and wait until the client goes
// away: a backup stopped there is paused with the snapshot unmade.
func holdSessions(hold *atomic.Bool, reached chan<- struct{}) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hold.Load() && strings.HasSuffix(r.URL.Path, "/BeginSession") {
				select {
				case reached <- struct{}{}:
				default:
				}
				<-r.Context().Done()
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// TestDockerPauseFailures: whatever goes wrong, a container --pause paused
// runs again afterwards and --hook-after runs: a token that may not upload
// (exit 4), a failing --hook-before (exit 1, the backup not made), a
// failing --hook-after (exit 1 after the commit), and SIGINT while the
// backup waits with the container paused.
func TestDockerPauseFailures(t *testing.T) {
	d := newDockerT(t)
	var hold atomic.Bool
	reached := make(chan struct{}, 1)
	srv := newCLIServerWrapped(t, holdSessions(&hold, reached))
	_, backup, restore := cliSetup(t, srv, "dockerpause")
	f := newCtrFixture(t, d)
	marks := t.TempDir()
	mark := filepath.Join(marks, "after")
	afterHook := `echo "$HOLDFAST_HOOK $HOLDFAST_BACKUP_STATUS $HOLDFAST_SOURCE_NAME" > ` + mark
	checkAfter := func(what, status string) {
		t.Helper()
		b, err := os.ReadFile(mark)
		if want := "after " + status + " " + f.name + "\n"; err != nil || string(b) != want {
			t.Errorf("%s: --hook-after wrote %q (%v), want %q", what, b, err, want)
		}
		os.Remove(mark)
		if st := d.state(f.name); st != "running" {
			t.Fatalf("%s: container is %s afterwards, want running", what, st)
		}
	}

	r := restore.run(t, "backup", "--docker-container", f.name, "--pause", "--hook-after", afterHook).want(t, 4, "backup with a restore token")
	if !strings.Contains(r.stderr, "unpaused "+f.name) {
		t.Errorf("denied backup: the pause is not reported: %q", r.stderr)
	}
	checkAfter("denied", "failed")

	r = backup.run(t, "backup", "--docker-container", f.name, "--pause", "--hook-before", "echo dumping; exit 3", "--hook-after", afterHook).
		want(t, 1, "failing --hook-before")
	last := r.stderr[strings.LastIndex(strings.TrimRight(r.stderr, "\n"), "\n")+1:]
	if !strings.Contains(last, "--hook-before") || !strings.Contains(last, "exit status 3") || strings.Contains(r.stderr, "paused") {
		t.Errorf("failing --hook-before: stderr %q", r.stderr)
	}
	if !strings.Contains(r.stderr, "dumping") {
		t.Errorf("the hook's output is not on stderr: %q", r.stderr)
	}
	checkAfter("hook-before", "failed")

	r = backup.run(t, "backup", "--docker-container", f.name, "--pause", "--hook-after", afterHook+"; exit 5").want(t, 1, "failing --hook-after")
	if !hexID.MatchString(r.lastLine()) || !strings.Contains(r.stderr, "committed") || !strings.Contains(r.stderr, "--hook-after") ||
		!strings.Contains(r.stderr, "exit status 5") {
		t.Errorf("failing --hook-after: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	checkAfter("hook-after", "ok")

	hold.Store(true)
	cmd := exec.Command(cliBinary(t), "backup", "--docker-container", f.name, "--pause", "--hook-after", afterHook)
	cmd.Env = backup.environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the backup never began its session; stderr %q", stderr.String())
	}
	if st := d.state(f.name); st != "paused" {
		t.Errorf("while the backup runs the container is %s, want paused", st)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("after SIGINT: %v, want exit 1; stderr %q", err, stderr.String())
	}
	checkAfter("SIGINT", "failed")
}

// TestDockerPauseEndsBeforeCommit: --pause holds the container only while
// its files are read: when the commit reaches the server, the container
// runs again, and the snapshot restores the data it held.
func TestDockerPauseEndsBeforeCommit(t *testing.T) {
	d := newDockerT(t)
	var name, atCommit atomic.Value // the container; its state when Commit arrived
	srv := newCLIServerWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n, ok := name.Load().(string); ok && strings.HasSuffix(r.URL.Path, "/Commit") {
				atCommit.Store(d.state(n))
			}
			h.ServeHTTP(w, r)
		})
	})
	_, backup, _ := cliSetup(t, srv, "dockerunpause")
	f := newCtrFixture(t, d)
	name.Store(f.name)
	r := backup.run(t, "backup", "--docker-container", f.name, "--pause")
	if r.code != 0 {
		t.Fatalf("backup --pause: %v", r)
	}
	if st, _ := atCommit.Load().(string); st != "running" {
		t.Fatalf("the container was %q when the commit arrived, want running", st)
	}
	if i, j := strings.Index(r.stderr, "unpaused "+f.name), strings.Index(r.stderr, "paused "+f.name); i < 0 || j < 0 || j > i {
		t.Fatalf("stderr %q does not pause and then unpause %s", r.stderr, f.name)
	}
}

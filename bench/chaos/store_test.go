package chaos

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// storeFault breaks one store and repairs it again.
type storeFault struct {
	name   string
	store  int    // index of the store it breaks
	says   string // what the client's error must say ("" = anything)
	skip   string // why it cannot run here ("" = it runs)
	break_ func() error
	repair func() error
}

// TestChaosStoreFaults breaks one of six stores (4+2) of the real server
// in turn: bind-mounted read-only, renamed away, and filled up for real (a
// small tmpfs). While it is broken a backup of new data must still commit,
// its shards written around the broken store (SPEC.md §9.8), and it and
// every committed snapshot must restore bit-exact while the store is still
// broken; once it is back, backups must work again. Variants that need a
// mount this machine refuses print a SKIP line and do not count as run.
func TestChaosStoreFaults(t *testing.T) {
	skipShort(t)
	base := t.TempDir()
	var stores []string
	for i := range 6 {
		stores = append(stores, filepath.Join(base, fmt.Sprintf("store%d", i)))
		if err := os.MkdirAll(stores[i], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	faults := []storeFault{readOnlyFault(t, stores, 1), goneFault(stores, 2), tmpfsFullFault(t, stores, 0)}
	f := newFixture(t, stores, 10, 512<<10)
	if _, r := f.takeBackup(f.backup); r.code != 0 {
		t.Fatalf("first backup: %v", r)
	}
	for _, fault := range faults {
		s := newTally(t, "store-"+fault.name)
		if fault.skip != "" {
			fmt.Printf("chaos: scenario=store-%s SKIP: %s\n", fault.name, fault.skip)
			t.Logf("SKIP store-%s: %s", fault.name, fault.skip)
			continue
		}
		var restored int64
		for range roundsOf(1, 3) {
			s.rounds++
			restored += f.underFault(s, fault)
		}
		s.report(itoa(s.rounds)+" backups written around it", mib(restored)+" restored while broken", "backup resumed")
	}
}

// underFault runs one round of a store fault that the server writes around:
// a backup of new data while the store is broken must commit, and it and
// the snapshot before it must restore bit-exact before the store is back.
// It returns the bytes restored while the store was broken.
func (f *fixture) underFault(s *tally, fault storeFault) int64 {
	t := f.t
	if err := fault.break_(); err != nil {
		t.Fatalf("break store %d (%s): %v", fault.store, fault.name, err)
	}
	f.src.mutate()
	_, r := f.takeBackup(f.backup)
	if r.code != 0 {
		s.fail("backup with a %s store: %v (want it written around the store)", fault.name, r)
	}
	restored := f.restoreLast(s, fault.name)
	f.afterRepair(s, fault)
	return restored
}

// underFaults runs one round of faults that break more stores than the
// server can write around: a backup of new data must fail with a one-line
// error that names no store path and says what fault.says, commit nothing,
// and the committed snapshots must still restore bit-exact. It returns the
// bytes restored while the stores were broken.
func (f *fixture) underFaults(s *tally, fault storeFault) int64 {
	t := f.t
	before, err := f.listed()
	if err != nil {
		t.Fatal(err)
	}
	if err := fault.break_(); err != nil {
		t.Fatalf("break stores (%s): %v", fault.name, err)
	}
	f.src.mutate()
	_, r := f.takeBackup(f.backup)
	f.checkRefused(s, r, "backup with "+fault.name+" stores")
	if !strings.Contains(r.stderr, fault.says) {
		s.fail("backup with %s stores: error %q does not say %q", fault.name, strings.TrimSpace(r.stderr), fault.says)
	}
	if after, err := f.listed(); err != nil || len(after) != len(before) {
		s.fail("snapshots after a failed backup: %d, before %d (%v)", len(after), len(before), err)
	}
	restored := f.restoreLast(s, fault.name)
	f.afterRepair(s, fault)
	return restored
}

// restoreLast restores the last two committed snapshots and returns the
// bytes restored.
func (f *fixture) restoreLast(s *tally, what string) int64 {
	var restored int64
	for _, sn := range f.committed[max(0, len(f.committed)-2):] {
		n, err := f.restoreCheck(sn)
		if err != nil {
			s.fail("with a %s store: %v", what, err)
		}
		restored += n
	}
	return restored
}

// afterRepair repairs the fault and checks that backups work again.
func (f *fixture) afterRepair(s *tally, fault storeFault) {
	if err := fault.repair(); err != nil {
		f.t.Fatalf("repair store %d (%s): %v", fault.store, fault.name, err)
	}
	sn, r := f.takeBackup(f.backup)
	if r.code != 0 {
		s.fail("backup once the %s store is back: %v", fault.name, r)
		return
	}
	if _, err := f.restoreCheck(sn); err != nil {
		s.fail("%v", err)
	}
	if err := f.verifyReadData(); err != nil {
		s.fail("%v", err)
	}
}

// checkRefused checks a run that must fail: exit 1 and one line on stderr
// that does not reveal where the stores are.
func (f *fixture) checkRefused(s *tally, r result, what string) {
	msg := strings.TrimSpace(r.stderr)
	switch {
	case r.code != 1:
		s.fail("%s: %v (want exit 1)", what, r)
	case msg == "" || strings.Contains(msg, "\n"):
		s.fail("%s: error is not one line: %q", what, r.stderr)
	}
	for _, st := range f.stores {
		if strings.Contains(r.stderr, st) {
			s.fail("%s: error reveals a store path: %q", what, msg)
		}
	}
	f.t.Logf("%s: %s", what, msg)
}

// readOnlyFault bind-mounts the store over itself read-only (root bypasses
// mode bits, so chmod would test nothing).
func readOnlyFault(t *testing.T, stores []string, i int) storeFault {
	dir := stores[i]
	fault := storeFault{name: "read-only", store: i, says: "read-only"}
	fault.break_ = func() error {
		if err := mount("--bind", dir, dir); err != nil {
			return err
		}
		return mount("-o", "remount,bind,ro", dir)
	}
	fault.repair = func() error { return exec.Command("umount", dir).Run() }
	if err := probeMount(t, "--bind"); err != nil {
		fault.skip = "cannot bind-mount here: " + err.Error()
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return fault
}

// goneFault renames the store directory away and back.
func goneFault(stores []string, i int) storeFault {
	dir := stores[i]
	return storeFault{name: "gone", store: i, says: "store is unavailable",
		break_: func() error { return os.Rename(dir, dir+".gone") },
		repair: func() error { return os.Rename(dir+".gone", dir) },
	}
}

// tmpfsFullFault makes the store a 48 MiB tmpfs before the server first
// starts; breaking it fills the rest with a file, repairing deletes it.
func tmpfsFullFault(t *testing.T, stores []string, i int) storeFault {
	dir := stores[i]
	filler := filepath.Join(dir, "filler")
	fault := storeFault{name: "full-tmpfs", store: i, says: "full"}
	if err := mount("-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", dir); err != nil {
		fault.skip = "cannot mount a tmpfs here: " + err.Error()
		return fault
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	fault.break_ = func() error { return fill(filler) }
	fault.repair = func() error { return os.Remove(filler) }
	return fault
}

// fill writes zeros to p until the file system is full.
func fill(p string) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, zeros{})
	if errors.Is(err, syscall.ENOSPC) {
		return nil
	}
	return fmt.Errorf("fill: %v (want ENOSPC)", err)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func mount(args ...string) error {
	out, err := exec.Command("mount", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// probeMount checks that a bind mount works on a scratch directory.
func probeMount(t *testing.T, kind string) error {
	dir := t.TempDir()
	if err := mount(kind, dir, dir); err != nil {
		return err
	}
	return exec.Command("umount", dir).Run()
}

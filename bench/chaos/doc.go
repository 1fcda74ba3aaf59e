// Package chaos is Holdfast's reliability suite (issue #8): it drives the
// real holdfastd and holdfast binaries, built once per run, through faults
// and bad input, and checks that nothing committed is ever lost.
//
// Each scenario is a test that prints one summary line on stdout:
//
//	chaos: scenario=server-kill-backup rounds=5 failures=0 verified=9 snapshots/42.0 MiB
//
// failures counts broken invariants and must be 0; verified says what was
// checked bit-exact. The scenarios:
//
//   - server-kill-*: SIGKILL of holdfastd at a random point of a client
//     operation (backup, restore), restart, then every snapshot the client
//     saw committed must list and restore bit-exact and `holdfast verify
//     --read-data` must pass. A new operation to kill the server during is
//     one more [serverKillOp].
//   - server-kill-gc: backups, the 1-minute gc grace waited once, then
//     rounds of forget, a backup sharing chunks, and `holdfast gc` killed
//     at a random point; every snapshot not forgotten restores bit-exact
//     after every restart, and at the end a gc completes and an offline
//     scrub finds no damage and no dangling index entry.
//   - server-kill-replication: two servers; the source or the target
//     (alternately) is killed during `holdfast admin replicate`; the
//     replica never lists a snapshot that does not restore, the next pass
//     completes, and every source snapshot restores from the replica.
//   - client-kill-backup: SIGKILL of `holdfast backup`; the rerun succeeds,
//     verify passes and an offline `holdfastd scrub --no-repair` is healthy.
//   - store-*: a store of six (4+2) goes read-only, disappears, or fills up
//     (ENOSPC through repo/backend/faulty, and for real on a small tmpfs):
//     backups fail with one line and commit nothing, restores keep working,
//     and backups resume when the store returns.
//   - bitrot: random byte flips in at most m shards of every pack; restores
//     stay bit-exact, scrub repairs all, a second scrub finds nothing.
//   - rpc-garbage, auth, tampered-snapshot: bad input on every RPC of the
//     generated service descriptors, every kind of bad token, and hostile
//     snapshots committed through the real server. The fuzz targets in
//     fuzz/ run through `make fuzz`, which `make test-chaos` calls.
//
// The short form (a few rounds each) runs in `go test ./...`; the long form
// runs with HOLDFAST_CHAOS=long (`make test-chaos`), or set the rounds of
// the kill scenarios with -chaos.rounds. -short skips the suite.
package chaos

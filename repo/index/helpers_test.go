package index_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// childEnv makes the test binary act as a child process (see TestMain):
// its value names the action, childDir the index directory.
const (
	childEnv = "HOLDFAST_INDEX_TEST_CHILD"
	childDir = "HOLDFAST_INDEX_TEST_DIR"
)

func TestMain(m *testing.M) {
	if action := os.Getenv(childEnv); action != "" {
		os.Exit(runChild(action, os.Getenv(childDir)))
	}
	os.Exit(m.Run())
}

// runChild performs one child-process action and returns the exit code.
func runChild(action, dir string) int {
	switch action {
	case "open":
		// Try to open an index another process holds; print the error.
		x, err := index.Open(dir, index.Options{})
		if err != nil {
			fmt.Println(err)
			return 3
		}
		x.Close()
		return 0
	case "commit-and-die":
		// Commit with sync, then die by SIGKILL without closing anything.
		x, err := index.Open(dir, index.Options{})
		if err != nil {
			fmt.Println(err)
			return 3
		}
		b := x.NewBatch()
		for i := range 100 {
			b.PutChunk(1, seqID(1, uint64(i)), testLoc(i))
		}
		if err := b.Commit(true); err != nil {
			fmt.Println(err)
			return 4
		}
		p, _ := os.FindProcess(os.Getpid())
		p.Kill() // SIGKILL: no deferred code, no Close
		select {}
	}
	fmt.Println("unknown child action", action)
	return 2
}

// child re-executes the test binary as a child performing action on dir.
func child(t *testing.T, action, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+action, childDir+"="+dir)
	return cmd
}

func openIndex(t testing.TB, dir string) *index.Index {
	t.Helper()
	x, err := index.Open(dir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func newIndex(t testing.TB) *index.Index { return openIndex(t, t.TempDir()) }

// seqID returns a deterministic, random-looking ID: the nth of stream.
func seqID(stream, n uint64) format.ID {
	var id format.ID
	r := rand.NewPCG(stream, n) // stays on the stack: no allocation
	for i := 0; i < len(id); i += 8 {
		binary.LittleEndian.PutUint64(id[i:], r.Uint64())
	}
	return id
}

// testLoc returns a realistic location for the ith chunk: 32 chunks of
// about 1 MiB per pack, random pack IDs and checksums, so that blocks of
// chunk locations compress no better than real ones.
func testLoc(i int) indexkey.ChunkLoc {
	loc := indexkey.ChunkLoc{
		Pack:   seqID(100, uint64(i/32)),
		Offset: uint64(i%32) << 20,
		Length: uint32(1<<20 - i%4096),
	}
	sum := seqID(101, uint64(i))
	copy(loc.Checksum[:], sum[:])
	return loc
}

// settle waits until the index has flushed and finished compacting, so
// that a measurement does not compete with background work.
func settle(t testing.TB, x *index.Index) {
	t.Helper()
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		st, err := x.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.CompactionsNow == 0 && st.CompactionDebtMB == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func commit(t testing.TB, b *index.Batch) {
	t.Helper()
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
}

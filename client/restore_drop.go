package client

import (
	"fmt"
	"os"
)

// Drop-behind: restore writes each file's bytes once and does not read
// them again, so once they are on disk their pages are only in the way.
// A large restore would otherwise fill the page cache with them, evicting
// what the host's own services use; and on machines that hand free memory
// back to a hypervisor, every new page-cache page costs a fault into the
// host as well (SPEC.md §12.8, "Page cache"). The writers start writeback
// as they go; the dropper waits for it a little later and drops the pages,
// so the restore keeps reusing the same few megabytes.
const (
	// dropWindow is how many bytes of one file are written before their
	// writeback is started.
	dropWindow = 4 << 20
	// dropMinFile is the size from which a file is dropped. Smaller files
	// are left to the kernel's writeback, which batches them: writing
	// back each of a source tree's many small files on its own costs more
	// than the new pages they take.
	dropMinFile = 1 << 20
	// dropLagBytes and dropLagFiles bound what is written but not yet
	// dropped: writeback of the oldest range has usually finished by the
	// time it is waited for, so writers rarely wait for the disk.
	dropLagBytes = 32 << 20
	dropLagFiles = 256
)

// dropItem is a range of a restored file whose writeback has started;
// closeFile says the file is finished and the dropper closes it.
type dropItem struct {
	f         *os.File
	rel       string
	off, n    int64
	closeFile bool
}

// dropper owns finished files of at least dropMinFile bytes until their
// pages are dropped, and closes them. The writers may call its methods
// concurrently.
type dropper struct {
	in   chan dropItem
	done chan struct{}
	fail func(error)
	keep bool // only close files (tests)
}

func newDropper(fail func(error), keep bool) *dropper {
	d := &dropper{in: make(chan dropItem, dropLagFiles), done: make(chan struct{}), fail: fail, keep: keep}
	go d.run()
	return d
}

// written starts writeback of n bytes of f at off and queues them to be
// dropped.
func (d *dropper) written(f *os.File, rel string, off, n int64) {
	if n <= 0 || d.keep {
		return
	}
	sysStartWriteback(f, off, n)
	d.in <- dropItem{f: f, rel: rel, off: off, n: n}
}

// finish is written for the file's last bytes, after which the dropper
// closes f and reports an error of Close as the file's.
func (d *dropper) finish(f *os.File, rel string, off, n int64) {
	if d.keep {
		n = 0
	}
	if n > 0 {
		sysStartWriteback(f, off, n)
	}
	d.in <- dropItem{f: f, rel: rel, off: off, n: max(n, 0), closeFile: true}
}

// close drops and closes everything queued and returns when done. No
// method may be called after it.
func (d *dropper) close() {
	close(d.in)
	<-d.done
}

func (d *dropper) run() {
	defer close(d.done)
	var q []dropItem
	var bytes int64
	files := 0
	pop := func() {
		it := q[0]
		q[0] = dropItem{}
		q = q[1:]
		bytes -= it.n
		if it.closeFile {
			files--
		}
		d.drop(it)
	}
	for it := range d.in {
		q = append(q, it)
		bytes += it.n
		if it.closeFile {
			files++
		}
		for len(q) > 0 && (bytes > dropLagBytes || files > dropLagFiles) {
			pop()
		}
	}
	for len(q) > 0 {
		pop()
	}
}

// drop waits for the range's writeback, drops its pages and, for a
// finished file, closes it. A failed writeback is the file's error: the
// bytes did not reach the disk.
func (d *dropper) drop(it dropItem) {
	var err error
	if it.n > 0 {
		n := it.n
		if it.closeFile {
			// To the end of the file: the kernel drops a partial last
			// page only when the range reaches the end of the file.
			n = 0
		}
		if err = sysDropWritten(it.f, it.off, n); err != nil {
			err = fmt.Errorf("/%s: write back: %w", it.rel, err)
		}
	}
	if it.closeFile {
		if cerr := it.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("/%s: %w", it.rel, cerr)
		}
	}
	if err != nil {
		d.fail(err)
	}
}

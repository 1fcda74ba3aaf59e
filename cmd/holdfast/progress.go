package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// progressRefresh is how often a bar is redrawn.
const progressRefresh = 250 * time.Millisecond

// progressWriter returns f when it is a terminal, else nil: progress is
// for someone watching, never for logs or pipes (CONTRACT.md).
func progressWriter(f *os.File) io.Writer {
	if f == nil || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// progressStat is what a bar shows. Totals of 0 are not known (yet).
type progressStat struct {
	done, total       uint64 // content bytes
	files, totalFiles uint64
	elapsed           time.Duration
	// final says the totals will not grow any more, so an ETA means
	// something (a backup's totals come from a scan beside it).
	final bool
}

// meter is one progress bar drawn by mpb: bytes done of the total, files,
// average rate and ETA. update may be called from any goroutine.
type meter struct {
	p   *mpb.Progress
	bar *mpb.Bar
	mu  sync.Mutex
	st  progressStat
}

// newMeter starts a bar on w labelled verb. extra options are for tests
// (a fake terminal needs mpb.WithAutoRefresh).
func newMeter(w io.Writer, verb string, extra ...mpb.ContainerOption) *meter {
	m := &meter{}
	opts := append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(progressRefresh)}, extra...)
	m.p = mpb.New(opts...)
	m.bar = m.p.AddBar(0, // total <= 0: the total is set as it becomes known
		mpb.PrependDecorators(decor.Name(verb, decor.WC{C: decor.DindentRight | decor.DextraSpace}), decor.Any(m.counts)),
		mpb.AppendDecorators(decor.Any(m.rate)),
	)
	return m
}

// update records st and moves the bar.
func (m *meter) update(st progressStat) {
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
	m.bar.SetTotal(int64(max(st.total, st.done)), false)
	m.bar.SetCurrent(int64(st.done))
}

// finish draws the last state and ends the bar: full on success, left
// where it stopped on failure.
func (m *meter) finish(ok bool) {
	if ok {
		m.bar.SetTotal(-1, true)
	} else {
		m.bar.Abort(false)
	}
	m.p.Wait()
}

func (m *meter) stat() progressStat {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// counts is "1.2 GiB / 4.0 GiB  12 / 340 files".
func (m *meter) counts(decor.Statistics) string {
	st := m.stat()
	s := bkBytes(st.done)
	if st.total > 0 {
		s += " / " + bkBytes(st.total)
	}
	s += "  " + itoa(st.files)
	if st.totalFiles > 0 {
		s += " / " + itoa(st.totalFiles)
	}
	return s + " files"
}

// rate is "56.3 MiB/s  ETA 54s": the average since the start, and the
// time left at that rate once the totals are final.
func (m *meter) rate(ds decor.Statistics) string {
	st := m.stat()
	secs := st.elapsed.Seconds()
	if secs <= 0 {
		return ""
	}
	r := float64(st.done) / secs
	s := bkBytes(uint64(r)) + "/s"
	if st.final && !ds.Completed && r > 0 && st.total > st.done {
		eta := time.Duration(float64(st.total-st.done) / r * float64(time.Second))
		s += "  ETA " + eta.Round(time.Second).String()
	}
	return s
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

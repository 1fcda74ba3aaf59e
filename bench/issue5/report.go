package issue5

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// Check is one limit of issue #5 against a measured value.
type Check struct {
	Name  string
	Value string
	Limit string
	OK    bool
}

// Checks compares one run with the issue's limits.
func (r *Result) Checks() []Check {
	var cs []Check
	add := func(name, value, limit string, ok bool) { cs = append(cs, Check{name, value, limit, ok}) }
	add("first backup", fmt.Sprintf("%.0f MB/s", r.Full.MBps()), fmt.Sprintf("≥ %d MB/s", MinMBps), r.Full.MBps() >= MinMBps)
	add("unchanged: bytes_read", fmt.Sprint(r.Unchanged.Summary.BytesRead), "0", r.Unchanged.Summary.BytesRead == 0)
	pct := 100 * r.Unchanged.Duration.Seconds() / r.Full.Duration.Seconds()
	add("unchanged: time", fmt.Sprintf("%.1f%% of first", pct), fmt.Sprintf("≤ %d%%", MaxUnchangedPct), pct <= MaxUnchangedPct)
	up := 100 * float64(r.Changed.Summary.BytesUploaded) / float64(r.Bytes)
	add("1% changed: uploaded", fmt.Sprintf("%.2f%% of data set", up), fmt.Sprintf("≤ %d%%", MaxUploadPct), up <= MaxUploadPct)
	add("restore", fmt.Sprintf("%.0f MB/s", r.Restore.MBps()), fmt.Sprintf("≥ %d MB/s", MinMBps), r.Restore.MBps() >= MinMBps)
	add("restore bit-exact", errString(r.RestoreVerify), "bit-exact", r.RestoreVerify == nil)
	peak := max(r.Full.ClientPeak, r.Unchanged.ClientPeak, r.Changed.ClientPeak, r.Restore.ClientPeak)
	add("client peak RSS", fmt.Sprintf("%d MiB", peak>>20), fmt.Sprintf("≤ %d MiB", MaxClientRSS>>20), peak <= MaxClientRSS)
	return cs
}

// Report writes the runs as a table with medians and the issue's checks
// for the median run (by first-backup throughput).
func Report(w io.Writer, runs []*Result) {
	if len(runs) == 0 {
		return
	}
	r0 := runs[0]
	fmt.Fprintf(w, "data set: %d files, %.2f GiB\n\n", r0.Files, float64(r0.Bytes)/(1<<30))
	fmt.Fprintf(w, "%-10s %9s %7s %8s %11s %11s %10s %10s %13s %11s\n", "phase", "median s", "MB/s", "×blake3", "client MiB", "server MiB", "client cpu", "server cpu", "faults c/s k", "uploaded")
	phases := []struct {
		name string
		get  func(*Result) Phase
	}{
		{"full", func(r *Result) Phase { return r.Full }},
		{"unchanged", func(r *Result) Phase { return r.Unchanged }},
		{"changed", func(r *Result) Phase { return r.Changed }},
		{"restore", func(r *Result) Phase { return r.Restore }},
	}
	for _, ph := range phases {
		var secs, ratio, client, server, up, ccpu, scpu, cflt, sflt []float64
		for _, r := range runs {
			p := ph.get(r)
			secs = append(secs, p.Duration.Seconds())
			ratio = append(ratio, p.MBps()/r.Blake3MBps)
			client = append(client, float64(p.ClientPeak>>20))
			server = append(server, float64(p.ServerPeak>>20))
			ccpu = append(ccpu, p.ClientCPU.Seconds())
			scpu = append(scpu, p.ServerCPU.Seconds())
			cflt = append(cflt, float64(p.ClientFaults)/1000)
			sflt = append(sflt, float64(p.ServerFaults)/1000)
			if p.Summary != nil {
				up = append(up, float64(p.Summary.BytesUploaded))
			}
		}
		s := median(secs)
		upS := "-"
		if len(up) > 0 {
			upS = fmt.Sprintf("%.0f", median(up))
		}
		flt := fmt.Sprintf("%.0f/%.0f", median(cflt), median(sflt))
		fmt.Fprintf(w, "%-10s %9.2f %7.0f %8.3f %11.0f %11.0f %10.2f %10.2f %13s %11s\n", ph.name, s, float64(r0.Bytes)/s/1e6, median(ratio),
			slices.Max(client), slices.Max(server), median(ccpu), median(scpu), flt, upS)
	}
	var b3 []float64
	for _, r := range runs {
		b3 = append(b3, r.Blake3MBps)
	}
	fmt.Fprintf(w, "(MiB: highest peak RSS of the runs; cpu: median CPU seconds, user + system, of the process during the phase;\n")
	fmt.Fprintf(w, " faults: median thousands of minor page faults of the client / the server during the phase)\n")
	fmt.Fprintf(w, "\nblake3.Sum256 baseline (one goroutine, same bytes, same run): median %.0f MB/s over %d runs\n", median(b3), len(runs))
	m := MedianRun(runs)
	fmt.Fprintf(w, "\nissue #5 checks (median run by first-backup time, %s):\n", m.Full.Duration.Round(time.Millisecond))
	for _, c := range m.Checks() {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-24s %-28s %s\n", mark, c.Name, c.Value, c.Limit)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MedianRun returns the run with the median first-backup time.
func MedianRun(runs []*Result) *Result {
	med := slices.Clone(runs)
	slices.SortFunc(med, func(a, b *Result) int { return cmp.Compare(a.Full.Duration, b.Full.Duration) })
	return med[len(med)/2]
}

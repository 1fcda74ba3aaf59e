package e2e

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotFloor is where the bars start on the logarithmic MB/s axis: a log
// scale has no zero, and no phase of interest is slower than this.
const plotFloor = 1.0

// writePlot draws the summary's MB/s per phase as horizontal bars on a
// logarithmic axis (an unchanged backup is orders of magnitude faster than
// a first one), with the two baselines as vertical lines, into a PNG.
func writePlot(path string, r *Report) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Holdfast end-to-end throughput, %s data set, median of %d run(s)", size(r.dataBytes()), len(r.Runs))
	p.X.Label.Text = "MB/s (log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}

	n := len(r.Summary)
	vals := make(plotter.Values, n)
	floor := make(plotter.Values, n)
	names := make([]string, n)
	labels := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
	hi := math.Max(r.Baselines.Blake3MBps, r.Baselines.CopyMBps)
	for i, ph := range r.Summary {
		// The first phase goes on top: nominal Y counts from the bottom.
		j := n - 1 - i
		names[j] = ph.Name
		floor[j] = plotFloor
		labels.XYs[j] = plotter.XY{X: plotFloor * 1.15, Y: float64(j)}
		labels.Labels[j] = ph.Status
		if ph.Status == StatusOK {
			vals[j] = math.Max(ph.MBps-plotFloor, 0)
			labels.XYs[j].X = math.Max(ph.MBps, plotFloor) * 1.15
			labels.Labels[j] = fmt.Sprintf("%.0f MB/s", ph.MBps)
			hi = math.Max(hi, ph.MBps)
		}
	}
	width := vg.Points(18)
	base, err := plotter.NewBarChart(floor, width)
	if err != nil {
		return fmt.Errorf("e2e: plot: %w", err)
	}
	bars, err := plotter.NewBarChart(vals, width)
	if err != nil {
		return fmt.Errorf("e2e: plot: %w", err)
	}
	base.Horizontal, bars.Horizontal = true, true
	bars.StackOn(base) // bars start at plotFloor, not at 0; base itself is not drawn
	bars.Color = color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff}
	bars.LineStyle.Width = 0
	text, err := plotter.NewLabels(labels)
	if err != nil {
		return fmt.Errorf("e2e: plot: %w", err)
	}
	p.Add(bars, text, plotter.NewGrid())
	for _, b := range []struct {
		name string
		mbps float64
		col  color.RGBA
	}{
		{"blake3.Sum256, one core", r.Baselines.Blake3MBps, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
		{"plain file copy", r.Baselines.CopyMBps, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}},
	} {
		if b.mbps <= 0 {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: b.mbps, Y: -0.5}, {X: b.mbps, Y: float64(n) - 0.5}})
		if err != nil {
			return fmt.Errorf("e2e: plot: %w", err)
		}
		l.Color, l.Width, l.Dashes = b.col, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s: %.0f MB/s", b.name, b.mbps), l)
	}
	p.NominalY(names...)
	// Room to the right of the last bar or line for the legend.
	p.X.Min, p.X.Max = plotFloor, math.Pow(10, math.Ceil(math.Log10(hi*30)))
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	if err := p.Save(9*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("e2e: plot: %w", err)
	}
	return nil
}

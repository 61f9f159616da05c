package plugin

import (
	"fmt"
)

// barChart is an SVG bar chart with its layout computed.
type barChart struct {
	ID, Title, Desc string
	Width, Height   int
	BaseY           int // y of the baseline
	AxisX1, AxisX2  int
	Bars            []bar
	Empty           string // shown instead of bars when every count is zero
	EmptyX, EmptyY  int
}

type bar struct {
	Label, Color string
	Count        int
	// Text is the value printed over the bar: the count, or a percentage.
	Text           string
	X, Y, W, H     int
	MidX           int // centre of the bar, for its labels
	ValueY, LabelY int
}

// Chart geometry, in SVG user units (CSS pixels at 100%).
const (
	chartMinWidth   = 540
	chartHeight     = 280
	chartSide       = 40 // left and right margin
	chartTop        = 50 // room for the heading and the tallest bar's value
	chartPlotHeight = 170
	chartMaxBarW    = 90
	chartSlotMin    = 70 // narrowest slot per bar before the chart widens
)

// newBarChart lays out one bar per label, scaled to the largest count.
func newBarChart(id, title, empty string, labels []string, counts []int, colors []string) barChart {
	texts := make([]string, len(counts))
	for i, v := range counts {
		texts[i] = fmt.Sprint(v)
	}
	return layoutBars(id, title, empty, labels, counts, texts, colors, 0)
}

// newPercentChart lays out one bar per label on a fixed scale of 0 to 100%.
func newPercentChart(id, title, empty string, labels []string, percents []int, colors []string) barChart {
	texts := make([]string, len(percents))
	for i, v := range percents {
		texts[i] = fmt.Sprintf("%d%%", v)
	}
	return layoutBars(id, title, empty, labels, percents, texts, colors, 100)
}

// layoutBars lays out one bar per label, each value printed as its text, scaled
// so that scale (or, when scale is 0, the largest value) fills the plot. Each
// bar takes colors[i] (cycling when there are fewer colours than bars).
func layoutBars(id, title, empty string, labels []string, counts []int, texts []string, colors []string, scale int) barChart {
	c := barChart{ID: id, Title: title, Height: chartHeight, BaseY: chartTop + chartPlotHeight}
	n := len(labels)
	c.Width = max(chartMinWidth, 2*chartSide+n*chartSlotMin)
	c.AxisX1, c.AxisX2 = chartSide, c.Width-chartSide
	c.EmptyX, c.EmptyY = c.Width/2, chartTop+chartPlotHeight/2
	peak, total := 0, 0
	for _, v := range counts {
		peak = max(peak, v)
		total += v
	}
	desc := ""
	for i, l := range labels {
		if i > 0 {
			desc += ", "
		}
		desc += fmt.Sprintf("%s: %s", l, texts[i])
	}
	c.Desc = title + ". " + desc
	if total == 0 {
		c.Empty = empty
		c.Desc = title + ". " + empty
	}
	if n == 0 {
		return c
	}
	if scale > 0 {
		peak = scale
	}
	slot := (c.Width - 2*chartSide) / n
	w := min(chartMaxBarW, slot*6/10)
	for i, l := range labels {
		h := 0
		if peak > 0 {
			h = min(max(counts[i], 0), peak) * chartPlotHeight / peak
		}
		x := chartSide + i*slot + (slot-w)/2
		c.Bars = append(c.Bars, bar{
			Label: l, Color: colors[i%len(colors)], Count: counts[i], Text: texts[i],
			X: x, Y: c.BaseY - h, W: w, H: h, MidX: x + w/2,
			ValueY: c.BaseY - h - 6, LabelY: c.BaseY + 20,
		})
	}
	return c
}

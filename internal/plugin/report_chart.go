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
	Label, Color   string
	Count          int
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
		desc += fmt.Sprintf("%s: %d", l, counts[i])
	}
	c.Desc = title + ". " + desc
	if total == 0 {
		c.Empty = empty
		c.Desc = title + ". " + empty
	}
	if n == 0 {
		return c
	}
	slot := (c.Width - 2*chartSide) / n
	w := min(chartMaxBarW, slot*6/10)
	for i, l := range labels {
		h := 0
		if peak > 0 {
			h = counts[i] * chartPlotHeight / peak
		}
		x := chartSide + i*slot + (slot-w)/2
		c.Bars = append(c.Bars, bar{
			Label: l, Color: colors[i%len(colors)], Count: counts[i],
			X: x, Y: c.BaseY - h, W: w, H: h, MidX: x + w/2,
			ValueY: c.BaseY - h - 6, LabelY: c.BaseY + 20,
		})
	}
	return c
}

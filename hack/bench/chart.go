package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// series is one line of a chart.
type series struct {
	name, color string
	x, y        []float64
}

// panel is one chart: a title, a y axis label and its lines.
type panel struct {
	title, unit string
	lines       []series
}

// Chart renders the cost of the measured sizes against partners as one SVG
// of four panels: convergence time (manager and plain client), peak memory,
// writes per partner and etcd size. Sizes without a figure are left out of
// that figure's line.
func Chart(r Report) string {
	res := append([]Result(nil), r.Results...)
	sort.Slice(res, func(i, j int) bool { return res[i].Partners < res[j].Partners })
	line := func(name, color string, f func(Result) float64) series {
		s := series{name: name, color: color}
		for _, x := range res {
			if v := f(x); v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
				s.x, s.y = append(s.x, float64(x.Partners)), append(s.y, v)
			}
		}
		return s
	}
	panels := []panel{
		{"Convergence", "seconds", []series{
			line("manager", "#1f77b4", func(x Result) float64 { return x.Convergence.Seconds }),
			line("plain client", "#ff7f0e", func(x Result) float64 { return x.Convergence.PlainSeconds }),
		}},
		{"Peak memory", "MiB", []series{
			line("RSS", "#1f77b4", func(x Result) float64 { return x.PeakRSSMiB }),
			line("heap", "#2ca02c", func(x Result) float64 { return x.PeakHeapMiB }),
		}},
		{"Writes per partner", "writes", []series{
			line("converge", "#1f77b4", func(x Result) float64 { return x.Convergence.Writes / float64(x.Partners) }),
			line("wave, per changed", "#d62728", func(x Result) float64 {
				if x.Wave.Changed == 0 {
					return 0
				}
				return x.Wave.Writes / float64(x.Wave.Changed)
			}),
		}},
		{"etcd database", "MiB", []series{
			line("size", "#9467bd", func(x Result) float64 { return x.StorageBytes / (1 << 20) }),
		}},
	}
	const w, h, cols = 440, 300, 2
	rows := (len(panels) + cols - 1) / cols
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", w*cols, h*rows+30)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14">partnergov make bench, %s (%s, %d CPUs): cost against partners</text>`+"\n",
		esc(r.Started), esc(r.Machine.CPU), r.Machine.CPUs)
	for i, p := range panels {
		drawPanel(&b, p, float64((i%cols)*w), float64(30+(i/cols)*h), w, h)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func drawPanel(b *strings.Builder, p panel, ox, oy float64, w, h int) {
	const left, right, top, bottom = 60.0, 20.0, 30.0, 40.0
	pw, ph := float64(w)-left-right, float64(h)-top-bottom
	var maxX, maxY float64
	for _, s := range p.lines {
		for i := range s.x {
			maxX, maxY = math.Max(maxX, s.x[i]), math.Max(maxY, s.y[i])
		}
	}
	fmt.Fprintf(b, `<g transform="translate(%.0f,%.0f)">`+"\n", ox, oy)
	fmt.Fprintf(b, `<text x="%.0f" y="18" font-size="13">%s (%s)</text>`+"\n", left, esc(p.title), esc(p.unit))
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", left, top, pw, ph)
	if maxX == 0 || maxY == 0 {
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f">no data</text></g>`+"\n", left+10, top+20)
		return
	}
	maxY = niceCeil(maxY)
	px := func(x float64) float64 { return left + pw*x/maxX }
	py := func(y float64) float64 { return top + ph - ph*y/maxY }
	for i := 0; i <= 4; i++ {
		y := maxY * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, left+pw, py(y), py(y), left-4, py(y)+4, num(y))
	}
	seen := map[float64]bool{}
	for _, s := range p.lines {
		for _, x := range s.x {
			if !seen[x] {
				seen[x] = true
				fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), top+ph+14, num(x))
			}
		}
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">partners</text>`+"\n", left+pw/2, top+ph+30)
	for k, s := range p.lines {
		var pts []string
		for i := range s.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.x[i]), py(s.y[i])))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(s.x[i]), py(s.y[i]), s.color)
		}
		if len(pts) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), s.color)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", left+8, top+14+float64(k)*14, s.color, esc(s.name))
	}
	b.WriteString("</g>\n")
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string {
	switch {
	case v >= 1000 && math.Mod(v, 1000) == 0:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 10 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

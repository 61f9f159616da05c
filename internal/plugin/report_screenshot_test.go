package plugin

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// chromiumBinary finds Debian's chromium (or chromium-browser) on the PATH.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatalf("the report screenshot test needs headless Chromium, and neither chromium nor chromium-browser is on the PATH: " +
		"install Debian's package (make test does: hack/install-debian-packages chromium:chromium)")
	return ""
}

// screenshot renders the page file with headless Chromium into a 1200x1600 PNG.
func screenshot(t *testing.T, page string) image.Image {
	t.Helper()
	return screenshotSized(t, page, 1200, 1600)
}

// screenshotSized renders the page file with headless Chromium into a PNG of
// width by height pixels.
func screenshotSized(t *testing.T, page string, width, height int) image.Image {
	t.Helper()
	bin := chromiumBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+out, "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s failed: %v\n%s", bin, err, log)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if keep := os.Getenv("REPORT_SCREENSHOT"); keep != "" {
		if b, err := os.ReadFile(out); err == nil {
			_ = os.WriteFile(keep, b, 0o644)
		}
	}
	return img
}

// rgb parses "#rrggbb".
func rgb(t *testing.T, hex string) color.RGBA {
	t.Helper()
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("bad colour %q", hex)
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// near reports whether c is within a few levels of want in every channel.
func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) bool { return int(x>>8)-int(y) <= 3 && int(y)-int(x>>8) <= 3 }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// colourArea is where, and in how many pixels, a colour appears.
type colourArea struct {
	pixels int
	box    image.Rectangle // bounding box of those pixels
}

func find(img image.Image, want color.RGBA) colourArea {
	var a colourArea
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !near(img.At(x, y), want) {
				continue
			}
			p := image.Rect(x, y, x+1, y+1)
			if a.pixels == 0 {
				a.box = p
			} else {
				a.box = a.box.Union(p)
			}
			a.pixels++
		}
	}
	return a
}

func (a colourArea) String() string { return fmt.Sprintf("%d pixels in %v", a.pixels, a.box) }

// TestReportScreenshotDrawsTheCharts renders the fixture report in headless
// Chromium and checks, in the pixels, that every chart's bars are drawn where
// the layout puts them: tiers and freshness side by side, exception ageing and
// deal phases below.
// It fails (never skips) when Chromium is missing.
func TestReportScreenshotDrawsTheCharts(t *testing.T) {
	page, err := RenderReport(reportFixture())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	img := screenshot(t, file)
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1600 {
		t.Fatalf("the screenshot is %dx%d, want 1200x1600", b.Dx(), b.Dy())
	}

	// Not blank: a good share of the page is not white.
	white := color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	ink := 1200*1600 - find(img, white).pixels
	if ink < 20000 {
		t.Fatalf("the screenshot is almost blank: %d non-white pixels", ink)
	}

	// The smallest bar of the fixture is 1 of 5 (tiers: 34 px high, 69 wide),
	// 3 of 10 (freshness: 51 px) or 1 of 3 (ageing: 56 px); each colour must
	// cover at least that much, less a margin for antialiased edges.
	const minPixels = 1500
	areas := map[string]colourArea{}
	for name, hex := range map[string]string{
		"tier": colorTier, "fresh": colorFresh, "going stale": colorGoingStale, "stale": colorStale, "exception": colorException,
		"deal": colorDeal,
	} {
		a := find(img, rgb(t, hex))
		areas[name] = a
		if a.pixels < minPixels {
			t.Errorf("the %s bars (%s) cover %s; want at least %d pixels: the chart is not drawn", name, hex, a, minPixels)
		}
	}
	if t.Failed() {
		return
	}
	tiers, exceptions, deals := areas["tier"].box, areas["exception"].box, areas["deal"].box
	fresh := areas["fresh"].box.Union(areas["going stale"].box).Union(areas["stale"].box)
	// Four tier bars and four age buckets span most of their 540-px chart;
	// the three freshness bars a little less.
	for name, box := range map[string]image.Rectangle{"tier": tiers, "freshness": fresh, "exception": exceptions} {
		if box.Dx() < 300 || box.Dy() < 150 {
			t.Errorf("the %s bars span only %v", name, box)
		}
	}
	if tiers.Max.X > fresh.Min.X || tiers.Overlaps(fresh) {
		t.Errorf("the tier chart (%v) is not left of the freshness chart (%v)", tiers, fresh)
	}
	if exceptions.Min.Y < tiers.Max.Y || exceptions.Min.Y < fresh.Max.Y {
		t.Errorf("the exception chart (%v) is not below the tier (%v) and freshness (%v) charts", exceptions, tiers, fresh)
	}
	// Bars stand on a common baseline within each chart.
	if d := areas["fresh"].box.Max.Y - areas["stale"].box.Max.Y; d < -1 || d > 1 {
		t.Errorf("freshness bars do not share a baseline: %v vs %v", areas["fresh"].box, areas["stale"].box)
	}
	if exceptions.Max.Y > 1600-10 {
		t.Errorf("the exception chart (%v) is cut off by the 1600-px window", exceptions)
	}
	// The deal phases chart is beside the exception chart, on its baseline.
	if deals.Min.X < exceptions.Max.X || deals.Overlaps(exceptions) || deals.Dx() < 300 {
		t.Errorf("the deal chart (%v) is not right of the exception chart (%v)", deals, exceptions)
	}
	if d := deals.Max.Y - exceptions.Max.Y; d < -1 || d > 1 {
		t.Errorf("the deal and exception charts do not share a row: %v vs %v", deals, exceptions)
	}
}

// TestPartnerPageScreenshotDrawsTheChartsAndSections renders the fixture
// partner page in headless Chromium and checks, in the pixels, that both charts'
// bars are drawn side by side (the next tier's requirements met and missing, the
// evidence by freshness) and that each of the page's six sections is drawn
// below them: its heading's marker, and its text or table under it.
// It fails (never skips) when Chromium is missing.
func TestPartnerPageScreenshotDrawsTheChartsAndSections(t *testing.T) {
	page, err := RenderPartnerPage(newPageFixture().page())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "partner.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	const width, height = 1200, 2000
	img := screenshotSized(t, file, width, height)
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Fatalf("the screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), width, height)
	}
	white := color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	if ink := width*height - find(img, white).pixels; ink < 20000 {
		t.Fatalf("the screenshot is almost blank: %d non-white pixels", ink)
	}

	// The smallest bars of the fixture: revenue at 15% of the next tier's
	// requirement (25 px high, 90 wide) and one entry of two (85 px, 69 wide).
	const minPixels = 1500
	areas := map[string]colourArea{}
	for name, hex := range map[string]string{
		"met": colorMet, "missing": colorMissing,
		"fresh": colorFresh, "going stale": colorGoingStale, "stale": colorStale, "not counted": colorNotCounted,
	} {
		a := find(img, rgb(t, hex))
		areas[name] = a
		if a.pixels < minPixels {
			t.Errorf("the %s bars (%s) cover %s; want at least %d pixels: the chart is not drawn", name, hex, a, minPixels)
		}
	}
	if t.Failed() {
		return
	}
	progress := areas["met"].box.Union(areas["missing"].box)
	fresh := areas["fresh"].box.Union(areas["going stale"].box).Union(areas["stale"].box).Union(areas["not counted"].box)
	if progress.Max.X > fresh.Min.X || progress.Overlaps(fresh) {
		t.Errorf("the progress chart (%v) is not left of the freshness chart (%v)", progress, fresh)
	}
	if d := progress.Max.Y - fresh.Max.Y; d < -1 || d > 1 {
		t.Errorf("the two charts do not share a baseline: %v vs %v", progress, fresh)
	}
	// The met requirement is at 100%, the missing one at 15%: bars to scale.
	if met, missing := areas["met"].box.Dy(), areas["missing"].box.Dy(); missing*4 > met || missing < 10 {
		t.Errorf("the 15%% bar is %d px high and the 100%% bar %d px: not to scale", missing, met)
	}

	// Each section heading has a marker at the left margin: six of them, below
	// the charts, each followed by ink (its text or table).
	marker := rgb(t, "#334e68")
	var runs []image.Rectangle
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		on := false
		for x := 20; x < 34; x++ {
			if near(img.At(x, y), marker) {
				on = true
				break
			}
		}
		switch {
		case on && (len(runs) == 0 || runs[len(runs)-1].Max.Y < y):
			runs = append(runs, image.Rect(20, y, 34, y+1))
		case on:
			runs[len(runs)-1].Max.Y = y + 1
		}
	}
	if len(runs) != 6 {
		t.Fatalf("found %d section markers at %v, want 6", len(runs), runs)
	}
	for i, r := range runs {
		if r.Min.Y < fresh.Max.Y || r.Dy() < 12 {
			t.Errorf("section marker %d at %v is above the charts (ending at y=%d) or too small", i, r, fresh.Max.Y)
		}
		end := height
		if i+1 < len(runs) {
			end = runs[i+1].Min.Y
		}
		ink := 0
		for y := r.Max.Y + 4; y < min(end, r.Max.Y+60); y++ {
			for x := 20; x < width-20; x++ {
				if !near(img.At(x, y), white) {
					ink++
				}
			}
		}
		if ink < 300 {
			t.Errorf("section %d (marker at %v) has %d non-white pixels under its heading: its content is not drawn", i, r, ink)
		}
	}
}

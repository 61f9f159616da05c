package main

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestTheChartDrawsEveryMeasuredSize(t *testing.T) {
	r := Report{Started: "2026-12-01T00:00:00Z", Machine: Machine{CPU: "test <cpu>", CPUs: 2}, Results: []Result{
		{Partners: 5000, PeakRSSMiB: 200, Convergence: Phase{Seconds: 170, PlainSeconds: 150, Writes: 20000}, StorageBytes: 80 << 20},
		{Partners: 1000, PeakRSSMiB: 90, Convergence: Phase{Seconds: 33, PlainSeconds: 30, Writes: 4000}, StorageBytes: 20 << 20},
	}}
	svg := Chart(r)
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	for _, want := range []string{"Convergence", "Peak memory", "Writes per partner", "etcd database", "test &lt;cpu&gt;", ">1k<", ">5k<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	// Two sizes: each panel with data draws its lines with two points.
	if n := strings.Count(svg, "<polyline"); n != 5 {
		t.Errorf("%d lines, want 5 (manager, plain, RSS, converge writes, etcd; heap and wave have no data)", n)
	}
}

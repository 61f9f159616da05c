package main

import (
	"math"
	"testing"
)

func TestTheCapacityModelProjectsTheMeasuredSlopes(t *testing.T) {
	a := Assumptions{WriteRate: 100, MemoryGiB: 1, StorageQuotaGiB: 8, StorageShare: 0.5, ConvergeHours: 1}
	// 50 MiB + 10 KiB per partner; 4 KiB of etcd and 2 writes per partner.
	size := func(n int) Result {
		return Result{Partners: n, PeakRSSMiB: 50 + float64(n)*10.0/1024, StorageBytes: 4096 * float64(n),
			Convergence: Phase{Writes: 2 * float64(n)}, ConvergenceCPUSeconds: 0.001 * float64(n)}
	}
	c, ok := Model([]Result{size(1000), size(5000), {Partners: 7000}, size(10000)}, a, 100000)
	if !ok {
		t.Fatal("no model")
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}
	if len(c.Sizes) != 3 {
		t.Errorf("sizes %v: a result without storage figures is not fitted", c.Sizes)
	}
	near("RSS intercept", c.RSSMiB.Intercept, 50)
	near("RSS per partner", c.RSSMiB.PerPartner, 10.0/1024)
	p := c.Projections[0]
	near("RSS at 100k", p.RSSMiB, 50+100000*10.0/1024)
	near("etcd GiB at 100k", p.StorageGiB, 4096*100000.0/(1<<30))
	near("share of quota at 100k", p.StorageQuotaPercent, 100*4096*100000.0/(8*(1<<30)))
	near("cold convergence minutes at 100k", p.ConvergeMinutes, 2*100000.0/100/60)
	near("CPU minutes at 100k", p.CPUMinutes, 100.0/60)
	for name, want := range map[string]float64{
		"memory (1 GiB)":                         (1024 - 50) / (10.0 / 1024),
		"etcd (50% of a 8 GiB quota)":            4 * (1 << 30) / 4096.0,
		"cold convergence (1 h at 100 writes/s)": 3600 * 100 / 2.0,
	} {
		got, ok := c.Limits[name]
		if !ok {
			t.Errorf("no limit %q in %v", name, c.Limits)
			continue
		}
		near(name, got, want)
	}
}

func TestOneMeasuredSizeIsProjectedThroughTheOrigin(t *testing.T) {
	c, ok := Model([]Result{{Partners: 2000, PeakRSSMiB: 100, StorageBytes: 1 << 20}}, DefaultAssumptions, 4000)
	if !ok || c.Projections[0].RSSMiB != 200 {
		t.Fatalf("model %+v", c)
	}
	if _, ok := Model(nil, DefaultAssumptions, 4000); ok {
		t.Error("a model without a measured size")
	}
}

func TestTheRecordsModelProjectsRecordsKeptOverTheRetention(t *testing.T) {
	a := Assumptions{StorageQuotaGiB: 8, StorageShare: 0.5, RecordsPerPartnerYear: 100, RetentionYears: 7, RecordBytesEtcd: 1024, RecordBytesPostgres: 2048}
	p := RecordsModel(a, 0, 1000)[0]
	if p.Records != 700000 {
		t.Errorf("records kept = %g, want 1000 partners x 100 a year x 7 years", p.Records)
	}
	if want := 700000.0 * 1024 / (1 << 30); math.Abs(p.EtcdGiB-want) > 1e-9 {
		t.Errorf("etcd GiB = %g, want %g", p.EtcdGiB, want)
	}
	if want := 700000.0 * 2048 / (1 << 30); math.Abs(p.PostgresGiB-want) > 1e-9 {
		t.Errorf("PostgreSQL GiB = %g, want %g", p.PostgresGiB, want)
	}
	// 4 GiB of share, 100,000 records a year of 1 KiB: about 42 years; with
	// 1 MiB of other objects per partner (1000 MiB in all) fewer.
	if want := 4.0 * (1 << 30) / (1000 * 100 * 1024); math.Abs(p.EtcdYears-want) > 1e-9 {
		t.Errorf("years = %g, want %g", p.EtcdYears, want)
	}
	if q := RecordsModel(a, 1<<20, 1000)[0]; q.EtcdYears >= p.EtcdYears {
		t.Errorf("the partners' own objects leave records less room: %g years, not fewer than %g", q.EtcdYears, p.EtcdYears)
	}
}

package main

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// Assumptions are what the capacity model cannot measure on this machine.
type Assumptions struct {
	// WriteRate is the object writes a second a production API server and
	// etcd absorb from the manager (the manager's own --kube-api-qps must
	// allow it).
	WriteRate float64
	// MemoryGiB is the memory one manager pod may use.
	MemoryGiB float64
	// StorageQuotaGiB is etcd's quota (--quota-backend-bytes; 8 GiB is the
	// recommended maximum), of which StorageShare may be partnergov's.
	StorageQuotaGiB, StorageShare float64
	// ConvergeHours is the longest acceptable time to decide every partner
	// from a cold start (a new leader with an empty cache).
	ConvergeHours float64
	// RecordsPerPartnerYear is how many DecisionRecords a partner's decisions
	// make in a year (deal transitions dominate), kept RetentionYears.
	RecordsPerPartnerYear, RetentionYears float64
	// RecordBytesEtcd and RecordBytesPostgres are what one record takes in
	// each store; a records phase that ran measures the first.
	RecordBytesEtcd, RecordBytesPostgres float64
}

// DefaultAssumptions are the model's defaults (flags override them).
var DefaultAssumptions = Assumptions{WriteRate: 500, MemoryGiB: 4, StorageQuotaGiB: 8, StorageShare: 0.5, ConvergeHours: 1,
	RecordsPerPartnerYear: 75, RetentionYears: 7, RecordBytesEtcd: 2060, RecordBytesPostgres: 2623}

// Slope is y = Intercept + PerPartner * partners, fitted by least squares
// over the measured sizes (through the origin when one size was measured).
type Slope struct {
	Intercept, PerPartner float64
}

// At is the slope's value at n partners.
func (s Slope) At(n float64) float64 { return s.Intercept + s.PerPartner*n }

// fit fits y against x.
func fit(x, y []float64) Slope {
	if len(x) == 0 {
		return Slope{}
	}
	if len(x) == 1 {
		return Slope{PerPartner: y[0] / x[0]}
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(x))
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if sxx == 0 {
		return Slope{PerPartner: my / mx}
	}
	b := sxy / sxx
	return Slope{Intercept: my - b*mx, PerPartner: b}
}

// Capacity is the model: per-partner slopes from the measured sizes and what
// they project.
type Capacity struct {
	Assumptions Assumptions
	// Sizes are the partner counts the slopes are fitted over.
	Sizes []int
	// RSSMiB, StorageBytes (etcd's database as the API server reports it),
	// Writes (the manager's object writes to converge) and CPUSeconds (the
	// manager's CPU to converge) against partners.
	RSSMiB, StorageBytes, Writes, CPUSeconds Slope
	Projections                              []Projection
	// Limits are the partner counts at which one manager reaches each
	// assumption; the smallest is where one manager stops being enough.
	Limits map[string]float64
}

// Projection is the model at one partner count.
type Projection struct {
	Partners                                                 int
	RSSMiB, StorageGiB, StorageQuotaPercent, ConvergeMinutes float64
	CPUMinutes                                               float64
}

// Model fits the capacity model to the results that carry the figures it
// needs, and projects it to the given partner counts. ok is false without a
// measured size.
func Model(results []Result, a Assumptions, at ...int) (Capacity, bool) {
	c := Capacity{Assumptions: a, Limits: map[string]float64{}}
	var n, rss, storage, writes, cpu []float64
	for _, r := range results {
		if r.Partners == 0 || r.StorageBytes == 0 {
			continue
		}
		c.Sizes = append(c.Sizes, r.Partners)
		n = append(n, float64(r.Partners))
		rss = append(rss, r.PeakRSSMiB)
		storage = append(storage, r.StorageBytes)
		writes = append(writes, r.Convergence.Writes)
		cpu = append(cpu, r.ConvergenceCPUSeconds)
	}
	if len(n) == 0 {
		return c, false
	}
	c.RSSMiB, c.StorageBytes, c.Writes, c.CPUSeconds = fit(n, rss), fit(n, storage), fit(n, writes), fit(n, cpu)
	quota := a.StorageQuotaGiB * (1 << 30)
	for _, p := range at {
		x := float64(p)
		st := c.StorageBytes.At(x)
		c.Projections = append(c.Projections, Projection{
			Partners: p, RSSMiB: c.RSSMiB.At(x), StorageGiB: st / (1 << 30), StorageQuotaPercent: 100 * st / quota,
			ConvergeMinutes: c.Writes.At(x) / a.WriteRate / 60, CPUMinutes: c.CPUSeconds.At(x) / 60,
		})
	}
	limit := func(name string, s Slope, budget float64) {
		if s.PerPartner > 0 {
			c.Limits[name] = math.Max(0, (budget-s.Intercept)/s.PerPartner)
		}
	}
	limit(fmt.Sprintf("memory (%.0f GiB)", a.MemoryGiB), c.RSSMiB, a.MemoryGiB*1024)
	limit(fmt.Sprintf("etcd (%.0f%% of a %.0f GiB quota)", 100*a.StorageShare, a.StorageQuotaGiB), c.StorageBytes, a.StorageShare*quota)
	limit(fmt.Sprintf("cold convergence (%.0f h at %.0f writes/s)", a.ConvergeHours, a.WriteRate), c.Writes, a.ConvergeHours*3600*a.WriteRate)
	return c, true
}

// Print writes the model.
func (c Capacity) Print(w io.Writer) {
	a := c.Assumptions
	fmt.Fprintf(w, "capacity model, fitted over %v partners:\n", c.Sizes)
	fmt.Fprintf(w, "  per partner: %.1f KiB RSS, %.1f KiB etcd, %.2f writes to converge, %.2f ms manager CPU to converge\n",
		c.RSSMiB.PerPartner*1024, c.StorageBytes.PerPartner/1024, c.Writes.PerPartner, c.CPUSeconds.PerPartner*1000)
	fmt.Fprintf(w, "  assumptions: %.0f object writes/s to a production API server; %.0f GiB per manager pod; etcd quota %.0f GiB, %.0f%% of it for partnergov; cold convergence within %.0f h\n",
		a.WriteRate, a.MemoryGiB, a.StorageQuotaGiB, 100*a.StorageShare, a.ConvergeHours)
	fmt.Fprintln(w, "| partners | RSS MiB | etcd GiB | of quota | cold convergence min | manager CPU min |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|")
	for _, p := range c.Projections {
		fmt.Fprintf(w, "| %d | %.0f | %.2f | %.0f%% | %.0f | %.0f |\n", p.Partners, p.RSSMiB, p.StorageGiB, p.StorageQuotaPercent, p.ConvergeMinutes, p.CPUMinutes)
	}
	names := make([]string, 0, len(c.Limits))
	for name := range c.Limits {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return c.Limits[names[i]] < c.Limits[names[j]] })
	first, at := "", math.Inf(1)
	for _, name := range names {
		n := c.Limits[name]
		fmt.Fprintf(w, "  one manager reaches %s at %.0f partners\n", name, n)
		if n < at {
			first, at = name, n
		}
	}
	if first != "" {
		fmt.Fprintf(w, "  one manager stops being enough at about %.0f partners (%s first)\n", at, first)
	}
}

// RecordProjection is what a program's kept records take at one partner count.
type RecordProjection struct {
	Partners int
	// Records are kept over the retention; EtcdGiB and PostgresGiB are what
	// they take in each store; EtcdSharePercent is of partnergov's share of
	// etcd's quota; EtcdYears is how many years of records fill that share
	// (with the partners' own objects, Partner bytes per partner, in it too).
	Records                                float64
	EtcdGiB, EtcdSharePercent, PostgresGiB float64
	EtcdYears                              float64
}

// RecordsModel projects the records a program keeps at each partner count,
// with partnerBytes of etcd per partner for everything else (the capacity
// model's slope; 0 when unknown).
func RecordsModel(a Assumptions, partnerBytes float64, at ...int) []RecordProjection {
	share := a.StorageQuotaGiB * (1 << 30) * a.StorageShare
	out := make([]RecordProjection, 0, len(at))
	for _, p := range at {
		n := float64(p)
		records := n * a.RecordsPerPartnerYear * a.RetentionYears
		etcd := records * a.RecordBytesEtcd
		years := math.Inf(1)
		if perYear := n * a.RecordsPerPartnerYear * a.RecordBytesEtcd; perYear > 0 {
			years = math.Max(0, share-n*partnerBytes) / perYear
		}
		out = append(out, RecordProjection{Partners: p, Records: records, EtcdGiB: etcd / (1 << 30),
			EtcdSharePercent: 100 * etcd / share, PostgresGiB: records * a.RecordBytesPostgres / (1 << 30), EtcdYears: years})
	}
	return out
}

// PrintRecords writes the records projection.
func PrintRecords(w io.Writer, a Assumptions, partnerBytes float64, ps []RecordProjection) {
	fmt.Fprintf(w, "records model: %.0f records per partner a year kept %.0f years; %.0f bytes a record in etcd, %.0f in PostgreSQL; %.1f KiB of other etcd per partner\n",
		a.RecordsPerPartnerYear, a.RetentionYears, a.RecordBytesEtcd, a.RecordBytesPostgres, partnerBytes/1024)
	fmt.Fprintf(w, "| partners | records kept | etcd GiB | of partnergov's etcd share (%.0f%% of %.0f GiB) | years until that share is full | PostgreSQL GiB |\n", 100*a.StorageShare, a.StorageQuotaGiB)
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|")
	for _, p := range ps {
		fmt.Fprintf(w, "| %d | %.0f | %.1f | %.0f%% | %.1f | %.1f |\n", p.Partners, p.Records, p.EtcdGiB, p.EtcdSharePercent, p.EtcdYears, p.PostgresGiB)
	}
}

// RecordModel is the records projection a report prints.
type RecordModel struct {
	Assumptions  Assumptions
	PartnerBytes float64
	Projections  []RecordProjection
}

// defaultPartnerBytes is the etcd a partner's own objects take when no size
// was measured (docs/performance.md, 2026-12-02: 14.5 KiB).
const defaultPartnerBytes = 14.5 * 1024

// withRecordModel adds the records projection to report, with what its own
// phases measured in place of the assumptions.
func withRecordModel(report *Report, a Assumptions) {
	partnerBytes := defaultPartnerBytes
	if report.Capacity != nil && report.Capacity.StorageBytes.PerPartner > 0 {
		partnerBytes = report.Capacity.StorageBytes.PerPartner
	}
	for _, x := range report.recordStores() {
		if x.BytesPerRecord <= 0 {
			continue
		}
		switch x.Store {
		case "crd":
			a.RecordBytesEtcd = x.BytesPerRecord
		case "postgres":
			a.RecordBytesPostgres = x.BytesPerRecord
		}
	}
	report.RecordModel = &RecordModel{Assumptions: a, PartnerBytes: partnerBytes, Projections: RecordsModel(a, partnerBytes, 10000, 100000, 500000)}
}

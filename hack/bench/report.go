package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/partnergov/partnergov/internal/app"
)

// Report is what bench/results/*.json holds.
type Report struct {
	Started  string
	Machine  Machine
	Settings Settings
	Results  []Result
	// Deals is the deal phase, when it ran (-deals).
	Deals *DealsResult `json:",omitempty"`
	// Records is the records phase of a run that measured only the CRD
	// store (2026-12-07, before -records-store).
	Records *RecordsResult `json:",omitempty"`
	// RecordStores is the records phase, one result a store (-records,
	// -records-store).
	RecordStores []*RecordsResult `json:",omitempty"`
	// RecordModel projects the records a program keeps (-assume-record-* and
	// what the records phase measured).
	RecordModel *RecordModel `json:",omitempty"`
	// Capacity is the capacity model fitted to Results.
	Capacity *Capacity `json:",omitempty"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPU       string
	CPUs      int
	MemoryGiB float64
	OS        string
	GoVersion string
}

// Settings are the manager's flags and the load's rates.
type Settings struct {
	QPS                     float64
	Burst                   int
	MaxConcurrentReconciles int
	SyncPeriod              string
	Steady                  string
	DecisionRate            int
	// DecisionRateLow is the second decision phase's rate (0: none).
	DecisionRateLow int `json:",omitempty"`
	AdmissionRate   int
	// CapacityFor is how long the decision capacity was measured ("" in
	// results from before it was, or with -capacity-for 0).
	CapacityFor string `json:",omitempty"`
}

// Result is one N's figures.
type Result struct {
	Partners int
	// MemoryLimitMiB is the container memory limit the manager ran under
	// (GOMEMLIMIT at app.MemoryLimitRatio of it); 0 for none.
	MemoryLimitMiB      float64 `json:",omitempty"`
	LoadSeconds         float64
	Convergence         Phase
	Wave                Phase
	WaveReportSeconds   float64
	SteadyWrites        float64
	SteadyEvents        float64
	SteadyLeaseRenewals float64
	Decision            Latency
	// UpdateRoundTrip is the evidence update's own request, part of Decision.
	UpdateRoundTrip Latency
	// DecisionLow and UpdateRoundTripLow are the same at Config.DecisionRateLow.
	DecisionLow        Latency
	UpdateRoundTripLow Latency
	// DecisionCapacity is the machine's decision capacity, measured before
	// the decision phases, and AtCapacity the decision phases that offered
	// 50% and 80% of it (issue 28; absent in results from before).
	DecisionCapacity *DecisionCapacity `json:",omitempty"`
	AtCapacity       []LoadPhase       `json:",omitempty"`
	Admission        Latency
	// RecordsStore is where the manager recorded the decisions (crd or
	// postgres; "" in results from before the flag: crd).
	RecordsStore string `json:",omitempty"`
	// RecordCreate is the manager's record creates to that store during the
	// Decision phase, with the upper bounds of the histogram buckets
	// (partnergov_record_create_duration_seconds) its percentiles fall in.
	RecordCreate Latency
	PeakRSSMiB   float64
	PeakHeapMiB  float64
	// ConvergenceCPUSeconds is the manager's CPU (user and system) from
	// taking the lease until quiet after convergence.
	ConvergenceCPUSeconds float64
	// StorageBytes is etcd's database size after convergence, as the API
	// server reports it (apiserver_storage_size_bytes); StorageObjects counts
	// the objects it stores (apiserver_storage_objects).
	StorageBytes, StorageObjects float64
	// PartnerBytes and PartnerBytesMax are the mean and the largest stored
	// Partner after the decision phases (JSON as read back, managed fields
	// included); 0 in results from before they were measured.
	PartnerBytes, PartnerBytesMax float64 `json:",omitempty"`
}

// Phase is a timed phase and its plain-client limit.
type Phase struct {
	Seconds float64
	// PlainSeconds is the plain client's time for Writes patches; it sent
	// PlainPatches of them (all, up to -plain-max) and the rest is extrapolated.
	PlainSeconds float64
	PlainPatches int
	Ratio        float64
	// MinWrites is what a decision needs: one status patch per changed
	// partner and, per decision, its DecisionRecord and the write of its
	// partner's chain head. PlainMinSeconds is the
	// plain client's time for that many writes at its measured rate, and
	// MinRatio is Seconds over it: the cost of everything else the manager
	// writes or waits for.
	MinWrites       float64 `json:",omitempty"`
	PlainMinSeconds float64 `json:",omitempty"`
	MinRatio        float64 `json:",omitempty"`
	// Writes are the manager's object writes (events and lease renewals apart).
	Writes  float64
	Events  float64
	Changed int
	// Records are the record writes among Writes (recordWrites: each
	// DecisionRecord and its chain head's write): two per decision is the
	// least once every decision is recorded in its partner's chain.
	Records float64 `json:",omitempty"`
}

// DealsResult is the deal phase: registrations created while the manager
// follows, then timed from the manager taking the lease to every registration
// seen with a decided phase (Approved, Queued, Rejected or UnderReview).
type DealsResult struct {
	Registrations int
	Partners      int
	// Customers are the distinct customers (conflict keys); the other
	// registrations are for a customer registered first by another partner.
	Customers int
	// CreateSeconds is how long the load generator took to register them
	// all through the admission webhooks (not rate limited).
	CreateSeconds float64
	// Seconds runs from the manager taking the lease to the last
	// registration seen decided; PerSecond is Registrations / Seconds.
	Seconds   float64
	PerSecond float64
	// PlainSeconds is the plain client's time for the least writes the same
	// registrations need (PlainWrites: a lock for each that holds its
	// customer, one status write and one DecisionRecord each), with the
	// manager's identity, QPS, burst and concurrency; it sent PlainSent writes
	// for PlainRegistrations of them (up to -plain-max writes) and the rest is
	// extrapolated. Ratio is Seconds / PlainSeconds.
	PlainSeconds       float64
	PlainWrites        int
	PlainSent          int
	PlainRegistrations int
	Ratio              float64
	// Writes are the manager's object writes from taking the lease until it
	// was quiet (events and lease renewals apart), split by what they wrote:
	// dealregistrations/status, deallocks, decisionrecords and recordchains, exceptionrequests
	// (with status: the review requests) and the rest.
	Writes, StatusWrites, LockWrites, RecordWrites, RequestWrites, OtherWrites float64
	Events                                                                     float64
	ByResource                                                                 map[string]float64
	// FirstPhases counts the first decided phase each registration was seen
	// with, Phases the phases once the manager was quiet.
	FirstPhases, Phases map[string]int
	PeakRSSMiB          float64
}

// Latency has the quantiles in milliseconds.
type Latency struct {
	Samples int
	P50ms   float64
	P99ms   float64
}

// Print writes the table and the goals.
func (r Report) Print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "machine: %s, %d CPUs, %.1f GiB, %s, %s\n", m.CPU, m.CPUs, m.MemoryGiB, m.OS, m.GoVersion)
	s := r.Settings
	fmt.Fprintf(w, "manager: --kube-api-qps=%g --kube-api-burst=%d --max-concurrent-reconciles=%d (--sync-period=%s in the steady-state window only)\n\n", s.QPS, s.Burst, s.MaxConcurrentReconciles, s.SyncPeriod)
	if len(r.Results) > 0 {
		r.printSizes(w)
	}
	if r.Capacity != nil {
		r.Capacity.Print(w)
		fmt.Fprintln(w)
	}
	if d := r.Deals; d != nil {
		n := float64(d.Registrations)
		fmt.Fprintln(w, "| registrations | partners | customers | decide s | decided/s | plain s | plain decided/s | ratio | writes/registration | status | lock | record | review request | other | events/registration | peak RSS MiB |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		fmt.Fprintf(w, "| %d | %d | %d | %.1f | %.0f | %.1f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f |\n",
			d.Registrations, d.Partners, d.Customers, d.Seconds, d.PerSecond, d.PlainSeconds, n/d.PlainSeconds, d.Ratio,
			d.Writes/n, d.StatusWrites/n, d.LockWrites/n, d.RecordWrites/n, d.RequestWrites/n, d.OtherWrites/n, d.Events/n, d.PeakRSSMiB)
		fmt.Fprintf(w, "\nfirst decisions: %s; once settled: %s\n", phaseText(d.FirstPhases), phaseText(d.Phases))
		fmt.Fprintf(w, "plain-client limit: %d writes (a lock for each registration that holds its customer, one status write and one DecisionRecord each)\n\n", d.PlainWrites)
	}
	if stores := r.recordStores(); len(stores) > 0 {
		printRecords(w, stores)
	}
	if m := r.RecordModel; m != nil {
		PrintRecords(w, m.Assumptions, m.PartnerBytes, m.Projections)
		fmt.Fprintln(w)
	}
	for _, g := range r.Goals() {
		fmt.Fprintln(w, g)
	}
}

// printSizes writes the table of the partner sizes.
func (r Report) printSizes(w io.Writer) {
	fmt.Fprintln(w, "| partners | converge s | plain s (same / min writes) | ratio (same / min) | wave s | plain s (same / min) | ratio (same / min) | writes/partner (converge) | writes/changed (wave) | events/changed | steady writes | decision p50/p99 ms | record creates meanwhile p50/p99 ms | decision at the low rate p50/p99 ms | decision capacity/s | decision at 50% of it p50/p99 ms | decision at 80% of it p50/p99 ms, settled/offered | webhook p50/p99 ms | peak RSS MiB | peak heap MiB | stored Partner bytes (mean / max) |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Results {
		fmt.Fprintf(w, "| %d | %.1f | %.1f / %.1f | %.2f / %.2f | %.1f | %.1f / %.1f | %.2f / %.2f | %.2f | %.3f | %.2f | %.0f | %.0f / %.0f | %s | %s | %s | %s | %s | %.1f / %.1f | %.0f | %.0f | %s |\n",
			x.Partners, x.Convergence.Seconds, x.Convergence.PlainSeconds, x.Convergence.PlainMinSeconds, x.Convergence.Ratio, x.Convergence.MinRatio,
			x.Wave.Seconds, x.Wave.PlainSeconds, x.Wave.PlainMinSeconds, x.Wave.Ratio, x.Wave.MinRatio,
			x.Convergence.Writes/float64(x.Partners), x.Wave.Writes/float64(x.Wave.Changed), x.Wave.Events/float64(x.Wave.Changed),
			x.SteadyWrites, x.Decision.P50ms, x.Decision.P99ms, recordCreates(x), low(r.Settings.DecisionRateLow, x.DecisionLow),
			capacityColumn(x), shareColumn(x, shareHalf), shareColumn(x, shareMost), x.Admission.P50ms, x.Admission.P99ms, x.PeakRSSMiB, x.PeakHeapMiB, partnerSize(x))
	}
	fmt.Fprintln(w)
}

// partnerSize is a size's stored Partner bytes, mean / max ("-" in results
// from before they were measured).
func partnerSize(x Result) string {
	if x.PartnerBytes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f / %.0f", x.PartnerBytes, x.PartnerBytesMax)
}

// recordCreates is a size's record creates during its decision phase: the
// store, the count and the bucket bounds of p50/p99 ("-" in results from
// before they were measured).
func recordCreates(x Result) string {
	if x.RecordCreate.Samples == 0 {
		return "-"
	}
	store := x.RecordsStore
	if store == "" {
		store = "crd"
	}
	return fmt.Sprintf("%s: %d, ≤%.0f / ≤%.0f", store, x.RecordCreate.Samples, x.RecordCreate.P50ms, x.RecordCreate.P99ms)
}

// Goals checks issue 7's goals against the results.
func (r Report) Goals() []string {
	var out []string
	check := func(ok bool, format string, args ...any) {
		mark := "MET    "
		if !ok {
			mark = "NOT MET"
		}
		out = append(out, mark+" "+fmt.Sprintf(format, args...))
	}
	if len(r.Results) > 0 {
		r.sizeGoals(check)
	}
	if d := r.Deals; d != nil {
		check(d.Ratio <= 1.25, "deal registrations decided within 1.25x of the plain client (%.2f)", d.Ratio)
	}
	for _, x := range r.recordStores() {
		check(x.HistoryFirstPageMs < 1000, "the first page of a partner's history of %d records within 1 s (%s: %.0f ms; all of it %.0f ms)",
			x.HistoryRecords, x.Store, x.HistoryFirstPageMs, x.HistoryAllMs)
	}
	return out
}

// sizeGoals checks the partner sizes' goals (issue 16).
func (r Report) sizeGoals(check func(ok bool, format string, args ...any)) {
	var ratios, waves, writes, decision, admission []string
	okRatio, okWave, okWrites, okSteady, okDecision, okAdmission := true, true, true, true, true, true
	for _, x := range r.Results {
		ratios = append(ratios, fmt.Sprintf("%d: %.2f same writes, %.2f minimum", x.Partners, x.Convergence.Ratio, x.Convergence.MinRatio))
		okRatio = okRatio && x.Convergence.MinRatio > 0 && x.Convergence.MinRatio <= 1.25
		waves = append(waves, fmt.Sprintf("%d: %.2f same writes, %.2f minimum", x.Partners, x.Wave.Ratio, x.Wave.MinRatio))
		okWave = okWave && x.Wave.MinRatio > 0 && x.Wave.MinRatio <= 1.10
		wc := (x.Wave.Writes - x.Wave.Records) / float64(x.Wave.Changed)
		writes = append(writes, fmt.Sprintf("%d: %.3f + %.3f records", x.Partners, wc, x.Wave.Records/float64(x.Wave.Changed)))
		okWrites = okWrites && wc <= 1.05
		okSteady = okSteady && x.SteadyWrites == 0
		decision = append(decision, fmt.Sprintf("%d: %.0f/%.0fms", x.Partners, x.Decision.P50ms, x.Decision.P99ms))
		okDecision = okDecision && x.Decision.P99ms <= 500 && x.Decision.P50ms <= 150
		admission = append(admission, fmt.Sprintf("%d: %.1fms", x.Partners, x.Admission.P99ms))
		okAdmission = okAdmission && x.Admission.P99ms <= 10
	}
	check(okRatio, "convergence within 1.25x of the plain client writing only what decisions need (%s)", strings.Join(ratios, ", "))
	check(okWave, "wave within 1.10x of the plain client writing only what decisions need (%s)", strings.Join(waves, ", "))
	check(okWrites, "at most 1.05 object writes per changed partner in the wave, plus a DecisionRecord and its chain head's write per decision (%s)", strings.Join(writes, ", "))
	check(okSteady, "no object write in steady state with a full resync")
	check(okDecision, "decision p50 at most 150ms and p99 at most 500ms (%s)", strings.Join(decision, ", "))
	r.capacityGoals(check)
	check(okAdmission, "webhook p99 at most 10ms (%s)", strings.Join(admission, ", "))
	var at10k, at20k *Result
	for i := range r.Results {
		switch r.Results[i].Partners {
		case 10000:
			at10k = &r.Results[i]
		case 20000:
			at20k = &r.Results[i]
		}
	}
	if at10k != nil {
		check(at10k.PeakRSSMiB <= 150, "peak RSS at most 150 MiB at 10,000 partners (%.0f MiB; %s)", at10k.PeakRSSMiB, limitText(at10k.MemoryLimitMiB))
	}
	if at10k != nil && at20k != nil {
		t := at20k.Convergence.Seconds / at10k.Convergence.Seconds
		mem := at20k.PeakRSSMiB / at10k.PeakRSSMiB
		check(mem <= 2, "peak RSS at 20,000 at most 2x that at 10,000 (%.2fx; convergence time %.2fx)", mem, t)
	}
}

// limitText says what memory limit a result ran under.
func limitText(mib float64) string {
	if mib == 0 {
		return "no memory limit, GOMEMLIMIT unset"
	}
	return fmt.Sprintf("a %.0f MiB container limit, GOMEMLIMIT %.0f MiB", mib, mib*app.MemoryLimitRatio)
}

// low renders the decision latency at the low rate, "-" when it was not measured.
func low(rate int, l Latency) string {
	if rate == 0 || l.P99ms == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f / %.0f (%d/s)", l.P50ms, l.P99ms, rate)
}

// recordStores are the records phase's results, old and new form.
func (r Report) recordStores() []*RecordsResult {
	if r.Records != nil {
		return append([]*RecordsResult{r.Records}, r.RecordStores...)
	}
	return r.RecordStores
}

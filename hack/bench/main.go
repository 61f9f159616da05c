// Command bench is `make bench`: for each N it starts a local control plane and
// the manager (as its own process, with the flags of config/manager), loads a
// program of N partners with six evidence metrics and four tiers, and measures
// convergence, an evidence wave, the plain-client limit, write amplification,
// the machine's decision capacity (decisions.go), decision latency at fixed
// rates and at 50% and 80% of that capacity, admission latency, and memory.
// Then, once and on its own control plane, the deal phase (deals.go):
// registrations decided per second against the plain-client limit, and the
// writes per registration. It prints the tables and writes JSON under
// bench/results/.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/harness"
	"github.com/partnergov/partnergov/test/testenv"
)

type config struct {
	sizes        []int
	qps          float64
	burst        int
	concurrency  int
	syncPeriod   time.Duration
	steady       time.Duration
	decisionRate int
	// decisionRateLow is a second, lower rate of the decision phase (0: none).
	decisionRateLow int
	decisionFor     time.Duration
	admissionRate   int
	admissionFor    time.Duration
	out             string
	loadWorkers     int
	convergeBudget  time.Duration
	pprof           string
	memoryLimit     string
	assume          Assumptions
	plainMax        int
	deals           int
	dealPartners    int
	dealCustomers   int
	records         int
	recordPartners  int
	historyRecords  int
	recordStores    string
	partnersStore   string
	// capacityFor is how long the plain client measures the decision
	// capacity (0: neither it nor the phases at shares of it).
	capacityFor time.Duration
}

func main() {
	d := app.Defaults
	c := config{}
	sizes := flag.String("n", "1000,5000,10000,20000", `partner counts to measure, comma-separated ("none": only the deal phase)`)
	flag.Float64Var(&c.qps, "qps", float64(d.QPS), "the manager's --kube-api-qps (and the plain client's)")
	flag.IntVar(&c.burst, "burst", d.Burst, "the manager's --kube-api-burst (and the plain client's)")
	flag.IntVar(&c.concurrency, "concurrency", d.Controllers.MaxConcurrentReconciles, "the manager's --max-concurrent-reconciles (and the plain client's workers)")
	flag.DurationVar(&c.syncPeriod, "steady-sync-period", 20*time.Second, "the manager's --sync-period in the steady-state window only (the other phases keep the default, 10h), so that the window holds full resyncs")
	flag.DurationVar(&c.steady, "steady", 60*time.Second, "steady-state window in which no write is expected")
	flag.IntVar(&c.decisionRate, "decision-rate", 50, "evidence updates per second while measuring decision latency")
	flag.IntVar(&c.decisionRateLow, "decision-rate-low", 25, "a second, lower rate of evidence updates measured after the first (0: none), where the API server is not saturated")
	flag.DurationVar(&c.decisionFor, "decision-for", 20*time.Second, "how long to measure decision latency")
	flag.DurationVar(&c.capacityFor, "capacity-for", 15*time.Second, "how long the plain client measures the machine's decision capacity (the evidence patch, one status patch and one DecisionRecord a decision, as fast as it can) before the decision phases, which then also offer 50% and 80% of it for -decision-for each (0: none of this)")
	flag.IntVar(&c.admissionRate, "admission-rate", 200, "admission reviews per second sent to the partners/status webhook")
	flag.DurationVar(&c.admissionFor, "admission-for", 10*time.Second, "how long to measure admission latency")
	flag.StringVar(&c.out, "out", "bench/results", "directory for the JSON results")
	flag.IntVar(&c.loadWorkers, "load-workers", 16, "workers creating partners and reporting evidence (not rate limited)")
	flag.DurationVar(&c.convergeBudget, "timeout", 30*time.Minute, "longest wait for a phase to settle")
	flag.IntVar(&c.plainMax, "plain-max", 6000, "most patches the plain client sends; beyond, its time is extrapolated from its measured rate")
	flag.IntVar(&c.deals, "deals", 2000, "deal registrations the deal phase registers and times, on its own control plane after the partner sizes (0: no deal phase)")
	flag.IntVar(&c.dealPartners, "deal-partners", 100, "partners registering in the deal phase (at least 2)")
	flag.IntVar(&c.dealCustomers, "deal-customers", 0, "distinct customers of the deal phase's registrations; the rest register a customer someone registered first and queue (default: three quarters of -deals)")
	flag.IntVar(&c.records, "records", 0, "DecisionRecords the records phase creates as the manager, on its own control plane (0: no records phase)")
	flag.IntVar(&c.recordPartners, "record-partners", 100, "partners the records phase spreads its records over")
	flag.StringVar(&c.recordStores, "records-store", "crd,postgres", "stores the records phase measures, comma-separated: crd (etcd) and postgres (the records server on a throwaway PostgreSQL)")
	flag.StringVar(&c.partnersStore, "partners-records-store", "crd", "where the manager records the partner sizes' decisions: crd (etcd) or postgres (the records server on a throwaway PostgreSQL); the decision phase reports each record create's round trip to it")
	flag.IntVar(&c.historyRecords, "history-records", 10000, "records of the one partner whose history the records phase reads, page by page")
	flag.StringVar(&c.memoryLimit, "memory-limit", "", "run the manager as in a container with this memory limit (a quantity such as 160Mi, or \"auto\" for the sizing rule of docs/performance.md): GOMEMLIMIT is set to the share of it automemlimit would set; empty: no limit")
	flag.StringVar(&c.pprof, "pprof", "", "serve the manager's pprof on this address (e.g. 127.0.0.1:6060) and save heap and CPU profiles of convergence, a CPU profile and a goroutine dump of the decision phase and kube-apiserver's CPU profile of it, under bin/bench/N/")
	flag.Float64Var(&c.assume.WriteRate, "assume-write-rate", DefaultAssumptions.WriteRate, "capacity model: object writes a second a production API server absorbs from the manager")
	flag.Float64Var(&c.assume.MemoryGiB, "assume-memory-gib", DefaultAssumptions.MemoryGiB, "capacity model: memory one manager pod may use, GiB")
	flag.Float64Var(&c.assume.StorageQuotaGiB, "assume-etcd-quota-gib", DefaultAssumptions.StorageQuotaGiB, "capacity model: etcd's quota, GiB")
	flag.Float64Var(&c.assume.StorageShare, "assume-etcd-share", DefaultAssumptions.StorageShare, "capacity model: the share of etcd's quota partnergov may use")
	flag.Float64Var(&c.assume.ConvergeHours, "assume-converge-hours", DefaultAssumptions.ConvergeHours, "capacity model: the longest acceptable cold convergence, hours")
	flag.Float64Var(&c.assume.RecordsPerPartnerYear, "assume-records-per-partner-year", DefaultAssumptions.RecordsPerPartnerYear, "records model: DecisionRecords a partner's decisions make a year")
	flag.Float64Var(&c.assume.RetentionYears, "assume-retention-years", DefaultAssumptions.RetentionYears, "records model: years records are kept (the program's recordRetention)")
	flag.Float64Var(&c.assume.RecordBytesEtcd, "assume-record-bytes-etcd", DefaultAssumptions.RecordBytesEtcd, "records model: etcd bytes a record takes (a records phase measures it)")
	flag.Float64Var(&c.assume.RecordBytesPostgres, "assume-record-bytes-postgres", DefaultAssumptions.RecordBytesPostgres, "records model: PostgreSQL bytes a record takes, with its indexes")
	report := flag.String("report", "", "render a results JSON file (its table, capacity model and an SVG chart beside it) instead of measuring")
	flag.Parse()
	if *report != "" {
		if err := render(*report, c.assume); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	for _, s := range strings.Split(*sizes, ",") {
		if strings.TrimSpace(s) == "none" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			fmt.Fprintf(os.Stderr, "bench: -n: %q is not a partner count of at least 10 (or none)\n", s)
			os.Exit(2)
		}
		c.sizes = append(c.sizes, n)
	}
	if c.dealCustomers <= 0 {
		c.dealCustomers = max(1, c.deals*3/4)
	}
	switch {
	case c.deals < 0 || c.dealPartners < 2:
		fmt.Fprintln(os.Stderr, "bench: -deals must be at least 0 and -deal-partners at least 2")
		os.Exit(2)
	case c.records < 0 || c.recordPartners < 1:
		fmt.Fprintln(os.Stderr, "bench: -records must be at least 0 and -record-partners at least 1")
		os.Exit(2)
	case c.partnersStore != "crd" && c.partnersStore != "postgres":
		fmt.Fprintf(os.Stderr, "bench: -partners-records-store %q: crd or postgres\n", c.partnersStore)
		os.Exit(2)
	case len(c.sizes) == 0 && c.deals == 0 && c.records == 0:
		fmt.Fprintln(os.Stderr, "bench: nothing to measure: -n none, -deals 0 and -records 0")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	fmt.Println("building the manager ...")
	bin, err := harness.BuildManager(ctx, root)
	if err != nil {
		return err
	}
	report := Report{
		Started: time.Now().UTC().Format(time.RFC3339), Machine: machine(),
		Settings: Settings{QPS: c.qps, Burst: c.burst, MaxConcurrentReconciles: c.concurrency, SyncPeriod: c.syncPeriod.String(),
			Steady: c.steady.String(), DecisionRate: c.decisionRate, DecisionRateLow: c.decisionRateLow, AdmissionRate: c.admissionRate},
	}
	if c.capacityFor > 0 {
		report.Settings.CapacityFor = c.capacityFor.String()
	}
	for _, n := range c.sizes {
		fmt.Printf("\n=== N = %d partners ===\n", n)
		r, err := measure(ctx, c, root, bin, n)
		if err != nil {
			return fmt.Errorf("N=%d: %w", n, err)
		}
		report.Results = append(report.Results, r)
	}
	if m, ok := Model(report.Results, c.assume, 100000, 500000); ok {
		report.Capacity = &m
	}
	if c.deals > 0 {
		fmt.Printf("\n=== deal registration: %d registrations, %d partners, %d customers ===\n", c.deals, c.dealPartners, c.dealCustomers)
		d, err := measureDeals(ctx, c, root, bin)
		if err != nil {
			return fmt.Errorf("deals: %w", err)
		}
		report.Deals = d
	}
	for _, store := range strings.Split(c.recordStores, ",") {
		if c.records == 0 {
			break
		}
		store = strings.TrimSpace(store)
		fmt.Printf("\n=== records in %s: %d DecisionRecords over %d partners, %d of one partner ===\n", store, c.records, c.recordPartners, min(c.historyRecords, c.records))
		rr, err := measureRecords(ctx, c, root, store)
		if err != nil {
			return fmt.Errorf("records in %s: %w", store, err)
		}
		report.RecordStores = append(report.RecordStores, rr)
	}
	withRecordModel(&report, c.assume)
	fmt.Println()
	report.Print(os.Stdout)
	dir := resultsDir(root, c.out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, time.Now().UTC().Format("20060102T150405Z")+".json")
	fmt.Println("\nresults:", path)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return writeChart(path, report)
}

// render prints a stored report with its capacity model (fitted again, under
// the given assumptions, when its sizes carry the figures) and writes its chart.
func render(path string, a Assumptions) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var report Report
	if err := json.Unmarshal(raw, &report); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if m, ok := Model(report.Results, a, 100000, 500000); ok {
		report.Capacity = &m
	}
	withRecordModel(&report, a)
	report.Print(os.Stdout)
	return writeChart(path, report)
}

// writeChart writes the report's chart beside its JSON, as .svg.
func writeChart(jsonPath string, report Report) error {
	svg := strings.TrimSuffix(jsonPath, ".json") + ".svg"
	if len(report.Results) == 0 {
		return nil
	}
	fmt.Println("chart:", svg)
	return os.WriteFile(svg, []byte(Chart(report)), 0o644)
}

// resultsDir is where -out puts the JSON: an absolute directory as given, a
// relative one under the repository root (make runs the bench from there).
func resultsDir(root, out string) string {
	if filepath.IsAbs(out) {
		return out
	}
	return filepath.Join(root, out)
}

// measure runs every phase for one N on a fresh control plane.
func measure(ctx context.Context, c config, root, bin string, n int) (Result, error) {
	r := Result{Partners: n, RecordsStore: c.partnersStore}
	dir := filepath.Join(root, "bin", "bench", strconv.Itoa(n))
	var cl *harness.Cluster
	if c.partnersStore == "postgres" {
		fmt.Println("building the records server, starting PostgreSQL and a control plane for it ...")
		pr, err := harness.StartPostgresRecords(ctx, root, dir)
		if err != nil {
			return r, err
		}
		defer pr.Stop()
		cl = pr.Cluster
	} else {
		var err error
		if cl, err = harness.Start(ctx, dir); err != nil {
			return r, err
		}
		defer cl.Stop()
	}
	cl.SetManagerBinary(bin)
	// The harness holds the lease while it loads the program: the manager serves
	// the webhooks (evidence goes through them) but decides nothing yet.
	if err := cl.HoldLease(ctx); err != nil {
		return r, err
	}
	mo := harness.ManagerOptions{QPS: float32(c.qps), Burst: c.burst, MaxConcurrentReconciles: c.concurrency}
	limit, err := memoryLimit(c.memoryLimit, n)
	if err != nil {
		return r, err
	}
	if limit > 0 {
		r.MemoryLimitMiB = float64(limit) / (1 << 20)
		mo.Env = append(mo.Env, fmt.Sprintf("GOMEMLIMIT=%d", int64(float64(limit)*app.MemoryLimitRatio)))
		fmt.Printf("memory limit %.0f MiB (GOMEMLIMIT %.0f MiB)\n", r.MemoryLimitMiB, r.MemoryLimitMiB*app.MemoryLimitRatio)
	}
	if c.pprof != "" {
		mo.Args = append(mo.Args, "--pprof-bind-address="+c.pprof)
	}
	mgr, err := cl.StartManager(ctx, "manager", mo)
	if err != nil {
		return r, err
	}
	defer mgr.Kill()
	const ns = "bench"
	if err := cl.Namespace(ctx, ns); err != nil {
		return r, err
	}
	if err := cl.InstallProgram(ctx); err != nil {
		return r, err
	}
	tracker, err := cl.Track(ctx, ns)
	if err != nil {
		return r, err
	}
	defer tracker.Stop()
	reporter, err := cl.ReporterClient(0, 0)
	if err != nil {
		return r, err
	}
	rank := make([]int, n)
	seq := make([]int, n)

	// Load: N partners, each with evidence for tier i%4.
	start := time.Now()
	if err := cl.CreatePartners(ctx, ns, n, c.loadWorkers); err != nil {
		return r, err
	}
	if err := harness.Parallel(ctx, n, c.loadWorkers, func(ctx context.Context, i int) error {
		rank[i] = i % len(harness.Tiers)
		tracker.Expect(harness.PartnerName(i), harness.Tiers[rank[i]], time.Time{})
		return harness.ReportEvidence(ctx, reporter, ns, harness.PartnerName(i), rank[i], 0)
	}); err != nil {
		return r, err
	}
	r.LoadSeconds = time.Since(start).Seconds()
	fmt.Printf("loaded %d partners with evidence in %.1fs (%d writes by the load generator)\n", n, r.LoadSeconds, 2*n)

	// 1. Convergence: from the manager taking the lease to every tier decided.
	heap := mgr.SampleHeap(2 * time.Second)
	before, err := writes(mgr)
	if err != nil {
		return r, err
	}
	cpuBefore, err := cpuSeconds(mgr)
	if err != nil {
		return r, err
	}
	if err := cl.ReleaseLease(ctx); err != nil {
		return r, err
	}
	if _, err := cl.WaitLeader(ctx, 30*time.Second, ""); err != nil {
		return r, fmt.Errorf("the manager did not take the lease: %w", err)
	}
	start = time.Now()
	cpuProfile := profile(c.pprof, "profile?seconds=20", filepath.Join(cl.Dir, "cpu.pprof"))
	done, err := tracker.Wait(ctx, c.convergeBudget)
	if err != nil {
		return r, fmt.Errorf("convergence: %w", err)
	}
	<-cpuProfile
	<-profile(c.pprof, "heap", filepath.Join(cl.Dir, "heap.pprof"))
	r.Convergence.Seconds = done.Sub(start).Seconds()
	after, err := quiet(ctx, mgr)
	if err != nil {
		return r, err
	}
	w := after.Sub(before)
	r.Convergence.Writes, r.Convergence.Events = w.Objects, w.Events
	r.Convergence.Records = recordWrites(w)
	cpuAfter, err := cpuSeconds(mgr)
	if err != nil {
		return r, err
	}
	r.ConvergenceCPUSeconds = cpuAfter - cpuBefore
	if err := recordStorage(ctx, cl, &r); err != nil {
		return r, err
	}
	r.Convergence.Changed = n
	fmt.Printf("  writes by verb and resource: %v\n", w.ByResource)
	fmt.Printf("convergence: %.1fs, %.0f object writes (%.2f per partner), %.0f events\n", r.Convergence.Seconds, w.Objects, w.Objects/float64(n), w.Events)

	// 2. Steady state: nothing changes. The manager is restarted with a short
	// --sync-period for the window, so it holds the full pass of a (re)start
	// and periodic resyncs; then it is restarted with the defaults again.
	if err := recordMemory(mgr, &r); err != nil {
		return r, err
	}
	steady := mo
	steady.SyncPeriod = c.syncPeriod
	mgr.Stop()
	if err := mgr.RestartWith(ctx, steady); err != nil {
		return r, err
	}
	if _, err := cl.WaitLeader(ctx, 60*time.Second, ""); err != nil {
		return r, fmt.Errorf("the manager did not take the lease: %w", err)
	}
	time.Sleep(c.steady)
	after, err = writes(mgr) // the restarted process counts from zero
	if err != nil {
		return r, err
	}
	r.SteadyWrites, r.SteadyEvents, r.SteadyLeaseRenewals = after.Objects, after.Events, after.Leases
	fmt.Printf("steady state (%s from a restart, --sync-period=%s): %.0f object writes, %.0f events, %.0f lease writes %v\n",
		c.steady, c.syncPeriod, after.Objects, after.Events, after.Leases, after.ByResource)
	if err := recordMemory(mgr, &r); err != nil {
		return r, err
	}
	mgr.Stop()
	if err := mgr.RestartWith(ctx, mo); err != nil {
		return r, err
	}
	if _, err := cl.WaitLeader(ctx, 60*time.Second, ""); err != nil {
		return r, fmt.Errorf("the manager did not take the lease: %w", err)
	}

	// 3. Evidence wave: new evidence for all N; every third partner moves up a tier
	// (the top tier wraps to the bottom), the others keep theirs. The integrations
	// report it while the manager is a follower; the clock runs from the manager
	// taking the lease to every tier decided, as for convergence.
	if err := pause(ctx, cl, mgr, &r); err != nil {
		return r, err
	}
	// The machine's decision capacity, measured here while the manager
	// follows (before the decision phases, which offer shares of it).
	if c.capacityFor > 0 {
		if r.DecisionCapacity, err = measureCapacity(ctx, c, cl, ns, n); err != nil {
			return r, fmt.Errorf("decision capacity: %w", err)
		}
		dc := r.DecisionCapacity
		fmt.Printf("decision capacity: the plain client completed %d decisions in %.1fs with %d workers over %d partners (the evidence patch, one status patch and one DecisionRecord each): %.1f decisions/s\n",
			dc.Decisions, dc.Seconds, dc.Workers, dc.Partners, dc.PerSecond)
	}
	before, err = writes(mgr)
	if err != nil {
		return r, err
	}
	start = time.Now()
	changed := 0
	for i := range n {
		seq[i]++
		if i%3 == 0 {
			rank[i] = (rank[i] + 1) % len(harness.Tiers)
			changed++
		}
		tracker.Expect(harness.PartnerName(i), harness.Tiers[rank[i]], time.Time{})
	}
	if err := harness.Parallel(ctx, n, c.loadWorkers, func(ctx context.Context, i int) error {
		return harness.ReportEvidence(ctx, reporter, ns, harness.PartnerName(i), rank[i], seq[i])
	}); err != nil {
		return r, err
	}
	r.WaveReportSeconds = time.Since(start).Seconds()
	if err := cl.ReleaseLease(ctx); err != nil {
		return r, err
	}
	if _, err := cl.WaitLeader(ctx, 30*time.Second, ""); err != nil {
		return r, fmt.Errorf("the manager did not take the lease: %w", err)
	}
	start = time.Now()
	done, err = tracker.Wait(ctx, c.convergeBudget)
	if err != nil {
		return r, fmt.Errorf("evidence wave: %w", err)
	}
	r.Wave.Seconds = done.Sub(start).Seconds()
	after, err = quiet(ctx, mgr)
	if err != nil {
		return r, err
	}
	w = after.Sub(before)
	r.Wave.Writes, r.Wave.Events, r.Wave.Changed = w.Objects, w.Events, changed
	r.Wave.Records = recordWrites(w)
	fmt.Printf("  writes by verb and resource: %v\n", w.ByResource)
	fmt.Printf("evidence wave: %d reports in %.1fs; the manager settled them %.1fs after taking the lease; %.0f object writes for %d changed partners (%.3f each), %.0f events\n",
		n, r.WaveReportSeconds, r.Wave.Seconds, w.Objects, changed, w.Objects/float64(changed), w.Events)

	// 4. Decision latency under a steady stream of evidence updates that each change a tier.
	updater, err := cl.ReporterClient(0, 0)
	if err != nil {
		return r, err
	}
	_ = mgr.SaveMetrics(filepath.Join(cl.Dir, "metrics-before-decisions.txt"))
	_ = cl.SaveAPIServerMetrics(ctx, filepath.Join(cl.Dir, "apiserver-before-decisions.txt"))
	decisionCPU := profile(c.pprof, fmt.Sprintf("profile?seconds=%d", int(c.decisionFor.Seconds())), filepath.Join(cl.Dir, "cpu-decisions.pprof"))
	apiserverCPU := make(chan struct{})
	go func() {
		defer close(apiserverCPU)
		if c.pprof != "" {
			if err := cl.SaveAPIServerProfile(ctx, int(c.decisionFor.Seconds()), filepath.Join(cl.Dir, "apiserver-cpu-decisions.pprof")); err != nil {
				fmt.Fprintln(os.Stderr, "kube-apiserver pprof:", err)
			}
		}
	}()
	go func() {
		// Where the workers wait, half-way through.
		time.Sleep(c.decisionFor / 2)
		<-profile(c.pprof, "goroutine?debug=1", filepath.Join(cl.Dir, "goroutines-decisions.txt"))
	}()
	createsBefore, err := mgr.Metrics()
	if err != nil {
		return r, err
	}
	fixed, err := decide(ctx, updater, tracker, ns, n, rank, seq, c.decisionRate, c.decisionFor, c.convergeBudget)
	if err != nil {
		return r, err
	}
	lat, rtts := fixed.latencies, fixed.roundTrips
	createsAfter, err := mgr.Metrics()
	if err != nil {
		return r, err
	}
	r.RecordCreate = histogramLatency(createsBefore, createsAfter, "partnergov_record_create_duration_seconds")
	<-decisionCPU
	<-apiserverCPU
	_ = mgr.SaveMetrics(filepath.Join(cl.Dir, "metrics-after-decisions.txt"))
	_ = cl.SaveAPIServerMetrics(ctx, filepath.Join(cl.Dir, "apiserver-after-decisions.txt"))
	r.Decision, r.UpdateRoundTrip = latency(lat), latency(rtts)
	fmt.Printf("decision latency at %d updates/s: %d samples, p50 %.0fms, p99 %.0fms (of which the update's own round trip: p50 %.0fms, p99 %.0fms)\n",
		c.decisionRate, len(lat), r.Decision.P50ms, r.Decision.P99ms, r.UpdateRoundTrip.P50ms, r.UpdateRoundTrip.P99ms)
	fmt.Printf("  record creates to the %s store meanwhile: %d, p50 ≤ %.0fms, p99 ≤ %.0fms (upper bounds of the manager's histogram buckets)\n",
		c.partnersStore, r.RecordCreate.Samples, r.RecordCreate.P50ms, r.RecordCreate.P99ms)
	// The same at a lower rate: the latency of the controller when the API
	// server it shares the machine with is not saturated.
	if c.decisionRateLow > 0 {
		low, err := decide(ctx, updater, tracker, ns, n, rank, seq, c.decisionRateLow, c.decisionFor, c.convergeBudget)
		if err != nil {
			return r, err
		}
		r.DecisionLow, r.UpdateRoundTripLow = latency(low.latencies), latency(low.roundTrips)
		fmt.Printf("decision latency at %d updates/s: %d samples, p50 %.0fms, p99 %.0fms (of which the update's own round trip: p50 %.0fms, p99 %.0fms)\n",
			c.decisionRateLow, len(low.latencies), r.DecisionLow.P50ms, r.DecisionLow.P99ms, r.UpdateRoundTripLow.P50ms, r.UpdateRoundTripLow.P99ms)
	}
	// The same at 50% and 80% of the machine's decision capacity, each
	// from a quiet manager (the records of the phase before are made).
	if dc := r.DecisionCapacity; dc != nil {
		for _, share := range []float64{shareHalf, shareMost} {
			if _, err := quiet(ctx, mgr); err != nil {
				return r, err
			}
			rate := offeredRate(dc.PerSecond, share)
			run, err := decide(ctx, updater, tracker, ns, n, rank, seq, rate, c.decisionFor, c.convergeBudget)
			if err != nil {
				return r, fmt.Errorf("at %.0f%% of the decision capacity: %w", 100*share, err)
			}
			p := LoadPhase{Share: share, Rate: rate, Decisions: run.sent, Seconds: run.seconds, Settled: settledRate(run.sent, run.seconds),
				Decision: latency(run.latencies), UpdateRoundTrip: latency(run.roundTrips)}
			r.AtCapacity = append(r.AtCapacity, p)
			fmt.Printf("decision latency at %.0f%% of the capacity (%d updates/s): %d samples, p50 %.0fms, p99 %.0fms (the update's own round trip: p50 %.0fms, p99 %.0fms); %d decisions settled in %.1fs: %.1f/s, %.2f of those offered, %.2f of the capacity\n",
				100*share, rate, p.Decision.Samples, p.Decision.P50ms, p.Decision.P99ms, p.UpdateRoundTrip.P50ms, p.UpdateRoundTrip.P99ms,
				p.Decisions, p.Seconds, p.Settled, p.OfOffered(), p.OfCapacity(dc.PerSecond))
		}
	}

	// What a stored Partner weighs after the decisions: the object as read
	// back, managed fields included, as JSON (how etcd keeps a custom
	// resource, before its small envelope).
	if r.PartnerBytes, r.PartnerBytesMax, err = partnerBytes(ctx, cl.Admin, ns); err != nil {
		return r, err
	}
	fmt.Printf("stored Partner: %.0f bytes on average, %.0f the largest (JSON as read back, managed fields included)\n", r.PartnerBytes, r.PartnerBytesMax)

	// 5. Admission latency of the partners/status webhook.
	var p v1alpha1.Partner
	if err := cl.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: harness.PartnerName(1)}, &p); err != nil {
		return r, err
	}
	alat, refused, err := cl.AdmissionLoad(ctx, mgr, &p, c.admissionRate, c.admissionFor)
	if err != nil {
		return r, err
	}
	if refused > 0 {
		return r, fmt.Errorf("admission: %d of %d reviews refused or failed", refused, len(alat))
	}
	r.Admission = latency(alat)
	fmt.Printf("admission latency at %d/s: %d reviews, p50 %.1fms, p99 %.1fms\n", c.admissionRate, len(alat), r.Admission.P50ms, r.Admission.P99ms)

	// 6. Memory over the whole run (both manager processes).
	if err := recordMemory(mgr, &r); err != nil {
		return r, err
	}
	r.PeakHeapMiB = heap.Stop() / (1 << 20)
	fmt.Printf("manager peak RSS %.0f MiB, peak heap in use %.0f MiB\n", r.PeakRSSMiB, r.PeakHeapMiB)

	// 7. The limit: a plain client with the manager's QPS, burst and concurrency
	// sends as many partners/status patches (evidence updates that change no
	// tier, through the same webhook) as the manager wrote. The manager is
	// restarted as a follower so that it serves the webhook and decides nothing.
	if err := pause(ctx, cl, mgr, &r); err != nil {
		return r, err
	}
	plain, err := cl.ReporterClient(float32(c.qps), c.burst)
	if err != nil {
		return r, err
	}
	for _, ph := range []*Phase{&r.Convergence, &r.Wave} {
		// Above -plain-max patches the plain client's steady rate is measured on
		// -plain-max of them and the time for all is extrapolated from it.
		ph.PlainPatches = min(int(ph.Writes), c.plainMax)
		start := time.Now()
		if err := harness.Parallel(ctx, ph.PlainPatches, c.concurrency, func(ctx context.Context, k int) error {
			i := k % n
			return harness.ReportEvidence(ctx, plain, ns, harness.PartnerName(i), rank[i], 1000+k)
		}); err != nil {
			return r, fmt.Errorf("plain client: %w", err)
		}
		took := time.Since(start).Seconds()
		ph.PlainSeconds = took * ph.Writes / float64(ph.PlainPatches)
		ph.Ratio = ph.Seconds / ph.PlainSeconds
		// The minimum: one status patch per changed partner and, per decision,
		// its record and its chain head's write, each at the plain client's
		// measured rate.
		ph.MinWrites = float64(ph.Changed) + ph.Records
		ph.PlainMinSeconds = took * ph.MinWrites / float64(ph.PlainPatches)
		ph.MinRatio = ph.Seconds / ph.PlainMinSeconds
		fmt.Printf("plain client: %d patches in %.1fs (%.0f/s); for the manager's %.0f writes: %.1fs (controller/plain %.2fx); for the %.0f a decision needs: %.1fs (%.2fx)\n",
			ph.PlainPatches, took, float64(ph.PlainPatches)/took, ph.Writes, ph.PlainSeconds, ph.Ratio, ph.MinWrites, ph.PlainMinSeconds, ph.MinRatio)
	}
	return r, nil
}

// pause stops the manager gracefully (it releases the lease), takes the lease
// for the harness and starts the manager again as a follower that serves the
// webhooks and decides nothing.
func pause(ctx context.Context, cl *harness.Cluster, mgr *harness.Manager, r *Result) error {
	if err := recordMemory(mgr, r); err != nil {
		return err
	}
	mgr.Stop()
	if err := cl.HoldLease(ctx); err != nil {
		return err
	}
	return mgr.Restart(ctx)
}

// recordMemory keeps the largest peak RSS of the manager processes.
func recordMemory(mgr *harness.Manager, r *Result) error {
	rss, err := mgr.PeakRSS()
	if err != nil {
		return err
	}
	r.PeakRSSMiB = max(r.PeakRSSMiB, float64(rss)/(1<<20))
	return nil
}

// cpuSeconds is the manager process's CPU time so far.
func cpuSeconds(m *harness.Manager) (float64, error) {
	ms, err := m.Metrics()
	if err != nil {
		return 0, err
	}
	return ms.Sum("process_cpu_seconds_total", nil), nil
}

// recordStorage records etcd's database size (physically allocated, old
// revisions until the API server compacts them included: what counts against
// etcd's quota) and the objects stored, as the API server reports them; it
// asks etcd for the size at each scrape.
func recordStorage(ctx context.Context, cl *harness.Cluster, r *Result) error {
	ms, err := cl.APIServerMetrics(ctx)
	if err != nil {
		return err
	}
	r.StorageBytes = ms.Sum("apiserver_storage_size_bytes", nil)
	if r.StorageObjects = ms.Sum("apiserver_resource_objects", nil); r.StorageObjects == 0 {
		r.StorageObjects = ms.Sum("apiserver_storage_objects", nil) // its name before Kubernetes 1.34
	}
	if r.StorageBytes == 0 {
		return fmt.Errorf("the API server reports no apiserver_storage_size_bytes")
	}
	return nil
}

// decisionRun is a decision phase: each decision's latency (from sending the
// update, its own round trip included, to the tracker's watch showing the new
// tier) and each update's round trip, sorted; the updates sent, and the
// seconds from the phase's start (it sends rate updates a second from then on,
// the first a tick later) to the last new tier seen.
type decisionRun struct {
	latencies, roundTrips []time.Duration
	sent                  int
	seconds               float64
}

// decide sends rate tier-changing evidence updates a second for d, spread over
// the n partners, and waits until every one is decided.
func decide(ctx context.Context, updater client.Client, tracker *harness.Tracker, ns string, n int, rank, seq []int,
	rate int, d, budget time.Duration) (decisionRun, error) {
	total := int(float64(rate) * d.Seconds())
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	errs := make(chan error, total)
	var rttMu sync.Mutex
	var rtts []time.Duration
	for k := range total {
		<-tick.C
		i := (k * 7919) % n // spread over the partners
		rank[i] = (rank[i] + 1) % len(harness.Tiers)
		seq[i]++
		go func(i, rk, sq int) {
			// Latency runs from sending the update (its own round trip included)
			// to the harness's watch showing the new tier.
			name := harness.PartnerName(i)
			sent := time.Now()
			tracker.Expect(name, harness.Tiers[rk], sent)
			err := harness.ReportEvidence(ctx, updater, ns, name, rk, sq)
			rttMu.Lock()
			rtts = append(rtts, time.Since(sent))
			rttMu.Unlock()
			errs <- err
		}(i, rank[i], seq[i])
	}
	tick.Stop()
	for range total {
		if err := <-errs; err != nil {
			return decisionRun{}, fmt.Errorf("decision-latency update: %w", err)
		}
	}
	done, err := tracker.Wait(ctx, budget)
	if err != nil {
		return decisionRun{}, fmt.Errorf("decision latency: %w", err)
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	return decisionRun{latencies: tracker.Latencies(), roundTrips: rtts, sent: total, seconds: done.Sub(start).Seconds()}, nil
}

// profile saves a pprof profile from addr (if set) in the background.
func profile(addr, what, path string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if addr == "" {
			return
		}
		resp, err := http.Get("http://" + addr + "/debug/pprof/" + what)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pprof:", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
	return done
}

// writes scrapes the manager's write counters.
func writes(m *harness.Manager) (harness.Writes, error) {
	ms, err := m.Metrics()
	if err != nil {
		return harness.Writes{}, err
	}
	return ms.Writes(), nil
}

// quiet waits until the manager has sent no object write for 7 s (the side
// effects that follow a decision, and the program's scorecard, written at most
// every 5 s, included) and returns the counters.
func quiet(ctx context.Context, m *harness.Manager) (harness.Writes, error) {
	last, err := writes(m)
	if err != nil {
		return last, err
	}
	stable := 0
	for stable < 14 {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		now, err := writes(m)
		if err != nil {
			return last, err
		}
		if now.Objects == last.Objects {
			stable++
		} else {
			stable = 0
		}
		last = now
	}
	return last, nil
}

// histogramLatency is the samples a histogram of the manager's (in seconds,
// every series summed) gained between two scrapes, with the upper bounds of
// the buckets its 50th and 99th percentiles fall in (the largest bound for
// one above them all).
func histogramLatency(before, after harness.Metrics, name string) Latency {
	b, a := before.Buckets(name), after.Buckets(name)
	var bounds []float64 // finite: JSON has no +Inf
	for le := range a {
		if !math.IsInf(le, 1) {
			bounds = append(bounds, le)
		}
	}
	slices.Sort(bounds)
	total := a[math.Inf(1)] - b[math.Inf(1)]
	out := Latency{Samples: int(total)}
	if total == 0 {
		return out
	}
	quantile := func(q float64) float64 {
		for _, le := range bounds {
			if a[le]-b[le] >= q*total {
				return le * 1000
			}
		}
		// Above the largest bound (33 s, a create that timed out): that bound.
		return bounds[len(bounds)-1] * 1000
	}
	out.P50ms, out.P99ms = quantile(0.50), quantile(0.99)
	return out
}

func latency(sorted []time.Duration) Latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latency{Samples: len(sorted), P50ms: ms(harness.Quantile(sorted, 0.50)), P99ms: ms(harness.Quantile(sorted, 0.99))}
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = float64(kb) / (1 << 20)
		}
	}
	return m
}

// memoryLimit is the container memory limit the manager runs under at n
// partners: none for "", the sizing rule for "auto", else the quantity given.
func memoryLimit(flagValue string, n int) (int64, error) {
	switch flagValue {
	case "":
		return 0, nil
	case "auto":
		return SuggestedMemoryLimit(n), nil
	}
	q, err := resource.ParseQuantity(flagValue)
	if err != nil {
		return 0, fmt.Errorf("-memory-limit: %w", err)
	}
	return q.Value(), nil
}

// SuggestedMemoryLimit is the container memory limit docs/performance.md
// suggests for n partners: 64 MiB for the runtime, the binary and the fixed
// caches, and 12 KiB per partner for its cached objects and their garbage.
// The 8 KiB of an earlier rule left the 20,000-partner heap (240 MiB at its
// peak) above GOMEMLIMIT: the collector ran without pause and the evidence wave
// took 1.6 times the plain client's time (bench/results/20261202T031559Z.json).
func SuggestedMemoryLimit(n int) int64 {
	return 64<<20 + int64(n)*12<<10
}

// recordWrites are the writes that record decisions: each record's create and
// the write of its partner's chain head (RecordChain) that comes before it.
func recordWrites(w harness.Writes) float64 {
	return w.ByResource["create decisionrecords"] + w.ByResource["create recordchains"] + w.ByResource["update recordchains"]
}

// partnerBytes is the mean and the largest size of the Partners of ns as
// stored: JSON of the object read back from the API server.
func partnerBytes(ctx context.Context, c client.Client, ns string) (mean, largest float64, err error) {
	var list v1alpha1.PartnerList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return 0, 0, err
	}
	for i := range list.Items {
		b, err := json.Marshal(&list.Items[i])
		if err != nil {
			return 0, 0, err
		}
		mean += float64(len(b))
		largest = max(largest, float64(len(b)))
	}
	if len(list.Items) > 0 {
		mean /= float64(len(list.Items))
	}
	return mean, largest, nil
}

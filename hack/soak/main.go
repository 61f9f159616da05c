// Command soak is `make soak`: on a local control plane it runs the manager as
// its own process (the flags of config/manager, sealing on), loads a program of
// -partners partners with evidence, lets it converge, and then for -duration
// keeps it busy the way a live program is: evidence at -rate reports a second
// (one in -tier-every moving a tier), exception requests filed and decided by
// their reviewers, deal registrations registered, won, expired and deleted,
// listings created, versioned, deprecated and deleted. Every -sample it reads
// the manager's RSS and open file descriptors from /proc and its goroutines,
// work-queue depths, API results and reconcile errors from its metrics; every
// -row it prints a table row. At the end it prints the verdicts (verdict.go),
// writes every sample as JSON under -out and exits non-zero when one fails.
// -records-store postgres keeps the records in the records server on a
// throwaway PostgreSQL (harness.StartPostgresRecords, as make chaos does).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/harness"
	"github.com/partnergov/partnergov/test/testenv"
)

type config struct {
	duration     time.Duration
	partners     int
	rate         int
	tierEvery    int
	sample       time.Duration
	row          time.Duration
	requestEvery time.Duration
	grantFor     time.Duration
	decideWithin time.Duration
	dealEvery    time.Duration
	winEvery     int
	protection   time.Duration
	listingEvery time.Duration
	listings     int
	loadWorkers  int
	settle       time.Duration
	timeout      time.Duration
	out          string
	pprof        string
	recordsStore string
}

func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", time.Hour, "how long the load runs after convergence (make soak SOAK=10m)")
	flag.IntVar(&c.partners, "partners", 2000, "partners of the program")
	flag.IntVar(&c.rate, "rate", 50, "evidence reports a second, spread over the partners")
	flag.IntVar(&c.tierEvery, "tier-every", 25, "one evidence report in this many moves its partner's tier (each move is a decision and a DecisionRecord); 0: none")
	flag.DurationVar(&c.sample, "sample", 10*time.Second, "how often the manager is read")
	flag.DurationVar(&c.row, "row", time.Minute, "how often a table row is printed (a multiple of -sample)")
	flag.DurationVar(&c.requestEvery, "request-every", 3*time.Second, "an exception request is filed (and then decided by its reviewers) this often")
	flag.DurationVar(&c.grantFor, "grant-for", 10*time.Minute, "how long an approved incentive exception's grant lasts")
	flag.DurationVar(&c.decideWithin, "decide-within", 2*time.Minute, "longest wait for a request to reach a stage or its end (longer is an error)")
	flag.DurationVar(&c.dealEvery, "deal-every", time.Second, "a deal registration is registered this often")
	flag.IntVar(&c.winEvery, "win-every", 3, "one registration in this many is reported won by the CRM; the others expire")
	flag.DurationVar(&c.protection, "protection", 2*time.Minute, "the program's deal protection: an approved registration not won expires after it")
	flag.DurationVar(&c.listingEvery, "listing-every", time.Second, "one listing operation this often, in turn: create, release a version, deprecate a version, delete the oldest")
	flag.IntVar(&c.listings, "listings", 50, "listings alive throughout")
	flag.IntVar(&c.loadWorkers, "load-workers", 32, "workers creating partners and sending evidence")
	flag.DurationVar(&c.settle, "settle", 3*time.Minute, "after the load, longest wait for every partner to hold the tier its evidence qualifies for (longer is an error)")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "longest wait for the initial convergence")
	flag.StringVar(&c.out, "out", "bench/results", "directory for the JSON of the samples (relative: under the repository root)")
	flag.StringVar(&c.recordsStore, "records-store", "crd", "where the DecisionRecords are kept: crd (etcd, through the CRD) or postgres (the records server, its own process, on a throwaway PostgreSQL, registered by its APIService)")
	flag.StringVar(&c.pprof, "pprof", "", "serve the manager's pprof on this address (e.g. 127.0.0.1:6060) and save its heap profile at the end of each quarter, as heap-q1.pprof ... heap-q4.pprof beside its log (compare: go tool pprof -base heap-q2.pprof heap-q4.pprof)")
	flag.Parse()
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	failed, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

func (c config) check() error {
	switch {
	case c.partners < 10:
		return fmt.Errorf("-partners %d: at least 10", c.partners)
	case c.rate < 1 || c.tierEvery < 0 || c.winEvery < 0 || c.listings < 1 || c.loadWorkers < 1:
		return fmt.Errorf("-rate, -listings and -load-workers must be at least 1, -tier-every and -win-every at least 0")
	case c.sample <= 0 || c.duration < 8*c.sample:
		return fmt.Errorf("-duration %s: at least 8 samples (-sample %s), two a quarter", c.duration, c.sample)
	case c.row < c.sample || c.row%c.sample != 0:
		return fmt.Errorf("-row %s must be a multiple of -sample %s", c.row, c.sample)
	case c.recordsStore != "crd" && c.recordsStore != "postgres":
		return fmt.Errorf("-records-store %q: crd or postgres", c.recordsStore)
	case c.requestEvery <= 0 || c.dealEvery <= 0 || c.listingEvery <= 0 || c.protection <= 0 || c.grantFor <= 0:
		return fmt.Errorf("-request-every, -deal-every, -listing-every, -protection and -grant-for must be positive")
	}
	return nil
}

// Report is the JSON the soak writes.
type Report struct {
	Started  string         `json:"started"`
	Machine  map[string]any `json:"machine"`
	Settings map[string]any `json:"settings"`
	// ConvergeSeconds: from the manager taking the lease to every partner's tier decided.
	ConvergeSeconds float64 `json:"convergeSeconds"`
	// Interrupted is true when the soak was stopped before its duration.
	Interrupted bool      `json:"interrupted,omitempty"`
	Samples     []Sample  `json:"samples"`
	Rows        []Row     `json:"rows"`
	Verdicts    []Verdict `json:"verdicts"`
	// SettleSeconds: from the load's end to every partner holding its expected tier.
	SettleSeconds float64 `json:"settleSeconds"`
	// Recorded is the records check after the load (VerdictRecorded).
	Recorded *Recorded `json:"recorded,omitempty"`
	// ObjectsAtStart and ObjectsAtEnd are the objects stored by kind (the soak's
	// namespace; DealLocks are cluster-scoped), listed from the API server.
	ObjectsAtStart map[string]float64 `json:"objectsAtStart"`
	ObjectsAtEnd   map[string]float64 `json:"objectsAtEnd"`
	// APICodes are the manager's requests over the soak by HTTP code; ReconcileErrors by controller.
	APICodes        map[string]float64 `json:"apiCodes"`
	ReconcileErrors map[string]float64 `json:"reconcileErrors"`
	// Errors are the first unexpected errors' messages.
	Errors []string `json:"errors,omitempty"`
}

// reader reads the manager.
type reader struct {
	mgr *harness.Manager
	// failures are readings that failed so far; messages the first of them.
	failures int
	messages []string
}

// raw is a reading with the manager's counters since it started.
type raw struct {
	Sample
	codes      map[string]float64
	reconciles map[string]float64
}

func (r *reader) read() (raw, error) {
	var s raw
	p, err := r.mgr.Process()
	if err != nil {
		return s, fmt.Errorf("reading /proc: %w", err)
	}
	ms, err := r.mgr.Metrics()
	if err != nil {
		return s, fmt.Errorf("scraping metrics: %w", err)
	}
	s.RSSMiB = float64(p.RSS) / (1 << 20)
	s.OpenFDs = p.OpenFDs
	s.HeapMiB = ms.Sum("go_memstats_heap_inuse_bytes", nil) / (1 << 20)
	s.LiveHeapMiB = ms.Sum("go_gc_heap_live_bytes", nil) / (1 << 20)
	s.Goroutines = int(ms.Sum("go_goroutines", nil))
	depths := ms.SumBy("workqueue_depth", "name")
	names := make([]string, 0, len(depths))
	for n := range depths {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := int(depths[n])
		s.QueueDepth += d
		if d > s.QueueMax {
			s.QueueMax, s.QueueMaxName = d, n
		}
	}
	s.codes = ms.SumBy("rest_client_requests_total", "code")
	s.API = ClassifyCodes(s.codes)
	s.reconciles = ms.SumBy("controller_runtime_reconcile_errors_total", "controller")
	s.ReconcileErrors = ms.Sum("controller_runtime_reconcile_errors_total", nil)
	return s, nil
}

func (r *reader) fail(err error) {
	r.failures++
	if len(r.messages) < maxMessages {
		r.messages = append(r.messages, time.Now().UTC().Format("15:04:05")+" reading the manager: "+err.Error())
	}
}

func run(c config) (failed bool, err error) {
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	root, err := testenv.RepoRoot()
	if err != nil {
		return false, err
	}
	started := time.Now().UTC()
	stamp := started.Format("20060102T150405Z")
	report := Report{Started: started.Format(time.RFC3339), Machine: map[string]any{"cpus": runtime.NumCPU(), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH},
		Settings: map[string]any{"duration": c.duration.String(), "partners": c.partners, "rate": c.rate, "tierEvery": c.tierEvery,
			"sample": c.sample.String(), "requestEvery": c.requestEvery.String(), "grantFor": c.grantFor.String(), "dealEvery": c.dealEvery.String(),
			"winEvery": c.winEvery, "protection": c.protection.String(), "listingEvery": c.listingEvery.String(), "listings": c.listings, "recordsStore": c.recordsStore}}

	fmt.Println("building the manager ...")
	bin, err := harness.BuildManager(ctx, root)
	if err != nil {
		return false, err
	}
	dir := filepath.Join(root, "bin", "soak", stamp)
	var cl *harness.Cluster
	if c.recordsStore == "postgres" {
		fmt.Println("building the records server, starting PostgreSQL and a control plane for it ...")
		pr, err := harness.StartPostgresRecords(ctx, root, dir)
		if err != nil {
			return false, err
		}
		defer pr.Stop()
		cl = pr.Cluster
	} else if cl, err = harness.Start(ctx, dir); err != nil {
		return false, err
	} else {
		defer cl.Stop()
	}
	cl.SetManagerBinary(bin)
	keys, err := harness.WriteSealKey(dir)
	if err != nil {
		return false, err
	}
	// The harness holds the lease while the program loads: the manager serves
	// the webhooks (everything goes through them) but decides nothing yet.
	if err := cl.HoldLease(ctx); err != nil {
		return false, err
	}
	mo := harness.ManagerOptions{Args: []string{"--seal-key-file", keys}}
	if c.pprof != "" {
		mo.Args = append(mo.Args, "--pprof-bind-address="+c.pprof)
	}
	mgr, err := cl.StartManager(ctx, "manager", mo)
	if err != nil {
		return false, err
	}
	defer mgr.Kill()
	l := &load{cfg: c, cl: cl, ns: "soak", rank: make([]int, c.partners), seq: make([]int, c.partners), stride: coprime(7919, c.partners)}
	if err := cl.Namespace(ctx, l.ns); err != nil {
		return false, err
	}
	if err := cl.InstallProgram(ctx); err != nil {
		return false, err
	}
	if err := l.program(ctx); err != nil {
		return false, err
	}
	if err := l.users(ctx); err != nil {
		return false, err
	}
	if l.tracker, err = cl.Track(ctx, l.ns); err != nil {
		return false, err
	}
	defer l.tracker.Stop()
	if l.reporter, err = cl.ReporterClient(0, 0); err != nil {
		return false, err
	}
	begin := time.Now()
	if err := cl.CreatePartners(ctx, l.ns, c.partners, c.loadWorkers); err != nil {
		return false, err
	}
	if err := harness.Parallel(ctx, c.partners, c.loadWorkers, func(ctx context.Context, i int) error {
		l.rank[i] = i % len(harness.Tiers)
		l.tracker.Expect(harness.PartnerName(i), harness.Tiers[l.rank[i]], time.Time{})
		return harness.ReportEvidence(ctx, l.reporter, l.ns, harness.PartnerName(i), l.rank[i], 0)
	}); err != nil {
		return false, err
	}
	fmt.Printf("loaded %d partners with evidence in %.1fs\n", c.partners, time.Since(begin).Seconds())
	if err := cl.ReleaseLease(ctx); err != nil {
		return false, err
	}
	if _, err := cl.WaitLeader(ctx, time.Minute, ""); err != nil {
		return false, fmt.Errorf("the manager did not take the lease: %w", err)
	}
	begin = time.Now()
	if _, err := l.tracker.Wait(ctx, c.timeout); err != nil {
		return false, fmt.Errorf("convergence: %w", err)
	}
	report.ConvergeSeconds = time.Since(begin).Seconds()
	fmt.Printf("converged in %.1fs\n", report.ConvergeSeconds)
	if err := l.createListings(ctx, c.listings); err != nil {
		return false, err
	}
	report.ObjectsAtStart = objects(ctx, cl, l.ns)

	// The soak.
	rd := &reader{mgr: mgr}
	first, err := rd.read()
	if err != nil {
		return false, err
	}
	base := first
	baseLoad := l.counts()
	since := func(r raw) Sample {
		s := r.Sample
		s.API = s.API.Sub(base.API)
		s.ReconcileErrors -= base.ReconcileErrors
		s.ScrapeErrors = rd.failures
		s.Load = l.counts().Sub(baseLoad)
		s.TiersPending = l.tracker.Pending()
		return s
	}
	l.tracker.Latencies() // none but the soak's
	fmt.Printf("\nsoak: %s, %d partners, %d evidence reports/s (1 in %d moves a tier), a request every %s, a deal every %s (1 in %d won, the rest expire after %s), a listing operation every %s over %d listings; a reading every %s\n\n",
		c.duration, c.partners, c.rate, c.tierEvery, c.requestEvery, c.dealEvery, c.winEvery, c.protection, c.listingEvery, c.listings, c.sample)
	start := time.Now()
	stop, stopLoad := context.WithDeadline(ctx, start.Add(c.duration))
	defer stopLoad()
	var loops sync.WaitGroup
	for _, f := range []func(ctx, stop context.Context){l.evidence, l.requests, l.deals, l.dealJanitor, l.listingOps} {
		loops.Add(1)
		go func() { defer loops.Done(); f(ctx, stop) }()
	}
	samples := []Sample{since(first)}
	prevRow := samples[0]
	var lat []time.Duration
	fmt.Println(TableHeader())
	tick := time.NewTicker(c.sample)
	perRow := int(c.row / c.sample)
	ticks := int(c.duration / c.sample)
	for k := 1; k <= ticks; k++ {
		select {
		case <-ctx.Done():
			report.Interrupted = true
		case <-tick.C:
		}
		if report.Interrupted {
			break
		}
		r, err := rd.read()
		if err != nil {
			rd.fail(err)
			if !mgr.Running() {
				fmt.Printf("the manager exited (log %s): the soak stops\n", mgr.Log)
				break
			}
			continue
		}
		s := since(r)
		s.Seconds = float64(k) * c.sample.Seconds() // the tick's nominal time, so quarters split evenly
		samples = append(samples, s)
		if c.pprof != "" && k*4%ticks == 0 {
			if err := saveHeap(c.pprof, filepath.Join(dir, fmt.Sprintf("heap-q%d.pprof", k*4/ticks))); err != nil {
				fmt.Println("pprof:", err)
			}
		}
		lat = append(lat, l.tracker.Latencies()...)
		if k%perRow == 0 {
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			row := NewRow(k/perRow, prevRow, s, float64(harness.Quantile(lat, 0.99).Microseconds())/1000)
			row.Objects = objects(ctx, cl, l.ns)
			if ms, err := cl.APIServerMetrics(ctx); err == nil {
				row.EtcdMiB = ms.Sum("apiserver_storage_size_bytes", nil) / (1 << 20)
			}
			fmt.Println(row.Format())
			report.Rows = append(report.Rows, row)
			prevRow, lat = s, nil
		}
	}
	tick.Stop()
	stopLoad()
	loops.Wait()
	l.flows.Wait()

	// After the load: every decision in flight lands, and a last reading
	// counts the errors of the drain too.
	taken := samples[len(samples)-1].Seconds
	end := time.Now()
	if _, err := l.tracker.Wait(ctx, c.settle); err != nil {
		l.fail("after the load: %v", err)
	}
	report.SettleSeconds = time.Since(end).Seconds()
	if r, err := rd.read(); err != nil {
		rd.fail(err)
		last := samples[len(samples)-1]
		last.ScrapeErrors, last.Load, last.Seconds = rd.failures, l.counts().Sub(baseLoad), time.Since(start).Seconds()
		samples = append(samples, last)
	} else {
		s := since(r)
		s.Seconds = time.Since(start).Seconds()
		samples = append(samples, s)
		report.APICodes = sub(r.codes, base.codes)
		report.ReconcileErrors = sub(r.reconciles, base.reconciles)
	}
	report.ObjectsAtEnd = objects(ctx, cl, l.ns)
	recorded, recErr := checkRecorded(ctx, cl.Admin, l.ns, c.partners, keys, 3*time.Minute)
	report.Recorded = &recorded
	report.Samples = samples
	report.Errors = append(rd.messages, l.errorMessages()...)
	final := samples[len(samples)-1]
	fmt.Printf("\nafter the load: every partner's tier settled within %.1fs; in all %d evidence reports (%d moved a tier, %d ticks skipped: senders busy), %d requests filed and %d decided, %d deals registered, %d won, %d expired, %d deleted, %d listings created, %d updated, %d deleted\n",
		report.SettleSeconds, final.Load.EvidenceSent, final.Load.TierChanges, final.Load.EvidenceSkipped, final.Load.RequestsFiled, final.Load.RequestsDecided,
		final.Load.DealsRegistered, final.Load.DealsWon, final.Load.DealsExpired, final.Load.DealsDeleted,
		final.Load.ListingsCreated, final.Load.ListingsUpdated, final.Load.ListingsDeleted)
	fmt.Printf("the manager's requests over the soak: %.0f (%.0f conflicts, %.0f not found, %.0f gone); by code %v; reconcile errors by controller %v\n",
		final.API.Requests, final.API.Conflicts, final.API.NotFound, final.API.Gone, report.APICodes, nonzero(report.ReconcileErrors))
	fmt.Printf("objects stored at the soak's start and end: %s\n", objectText(report.ObjectsAtStart, report.ObjectsAtEnd))
	for _, m := range report.Errors {
		fmt.Println("  error:", m)
	}

	d := c.duration
	if report.Interrupted {
		d = time.Duration(taken * float64(time.Second))
		fmt.Println("\ninterrupted: the verdicts judge the samples taken")
	}
	report.Verdicts = append(Verdicts(samples, d), RecordedVerdict(recorded, recErr))
	fmt.Println()
	PrintVerdicts(os.Stdout, report.Verdicts)

	out := c.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return true, err
	}
	b, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return true, err
	}
	path := filepath.Join(out, "soak-"+stamp+".json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return true, err
	}
	fmt.Println("\nsamples:", path, "  manager log:", mgr.Log)
	mgr.Stop()
	return Failed(report.Verdicts) || report.Interrupted, nil
}

// saveHeap saves the manager's heap profile (as of its last collection) to path.
func saveHeap(addr, path string) error {
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET heap profile: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// counted are the kinds whose objects the soak counts at its start and end,
// and whether they live in the soak's namespace.
var counted = []struct {
	kind       string
	namespaced bool
}{
	{"Partner", true}, {"DecisionRecord", true}, {"ExceptionRequest", true}, {"DealRegistration", true},
	{"DealLock", false}, {"Listing", true}, {"Event", true},
}

// objects counts the objects stored of each counted kind (listed from the API
// server, metadata only; -1 when the list fails: a figure, not a verdict).
func objects(ctx context.Context, cl *harness.Cluster, ns string) map[string]float64 {
	out := map[string]float64{}
	for _, k := range counted {
		var list metav1.PartialObjectMetadataList
		gv := v1alpha1.GroupVersion
		switch k.kind {
		case "Event":
			gv = corev1.SchemeGroupVersion
		case "DecisionRecord":
			gv = recordsv1alpha1.GroupVersion
		}
		list.SetGroupVersionKind(gv.WithKind(k.kind + "List"))
		var opts []client.ListOption
		if k.namespaced {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := cl.Admin.List(ctx, &list, opts...); err != nil {
			out[k.kind] = -1
			continue
		}
		out[k.kind] = float64(len(list.Items))
	}
	return out
}

// objectText shows the counts, start → end.
func objectText(start, end map[string]float64) string {
	var parts []string
	for _, k := range counted {
		parts = append(parts, fmt.Sprintf("%s %.0f → %.0f", k.kind, start[k.kind], end[k.kind]))
	}
	return strings.Join(parts, ", ")
}

func sub(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func nonzero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

package main

// The pure part of the soak: samples, their quarters and medians, the
// verdicts and the table rows. main.go takes the samples; nothing here reads
// a process or the API server.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sample is one reading of the manager and of the load, Seconds after the
// soak's load began. Gauges are as read; counters count from the soak's start
// (the readings at its start subtracted), so setup and convergence are not in them.
type Sample struct {
	Seconds float64 `json:"seconds"`
	// RSSMiB is the manager's resident set size (VmRSS), HeapMiB its Go heap in
	// use (garbage not yet collected included), LiveHeapMiB the heap the last
	// collection found live (go_gc_heap_live_bytes): what grows when objects
	// accumulate or leak, without the collector's slack.
	RSSMiB      float64 `json:"rssMiB"`
	HeapMiB     float64 `json:"heapInUseMiB"`
	LiveHeapMiB float64 `json:"liveHeapMiB"`
	// Goroutines of the manager (go_goroutines).
	Goroutines int `json:"goroutines"`
	// OpenFDs are the manager's open file descriptors (/proc/PID/fd).
	OpenFDs int `json:"openFDs"`
	// QueueDepth is the sum of the controllers' work-queue depths
	// (workqueue_depth); QueueMax the deepest, QueueMaxName its controller.
	QueueDepth   int    `json:"workqueueDepth"`
	QueueMax     int    `json:"workqueueMax"`
	QueueMaxName string `json:"workqueueMaxController,omitempty"`
	// API are the manager's requests to the API server by result.
	API APICounts `json:"api"`
	// ReconcileErrors are reconciles that returned an error
	// (controller_runtime_reconcile_errors_total; the controllers turn a
	// conflict into a requeue, so each one is unexpected).
	ReconcileErrors float64 `json:"reconcileErrors"`
	// ScrapeErrors are readings that failed: the manager not answering its
	// metrics endpoint or gone from /proc. Each is unexpected.
	ScrapeErrors int `json:"scrapeErrors"`
	// Load is what the load generator did.
	Load LoadCounts `json:"load"`
	// TiersPending are partners whose tier a watch does not yet see as the
	// one their evidence qualifies for (decisions in flight).
	TiersPending int `json:"tiersPending"`
}

// APICounts are the manager's requests to the API server by result, from
// client-go's rest_client_requests_total.
type APICounts struct {
	Requests float64 `json:"requests"`
	// NotFound (404) and Gone (410, a watch resuming from a compacted revision)
	// are expected while objects come and go.
	NotFound float64 `json:"notFound"`
	Gone     float64 `json:"gone"`
	// Conflicts (409) are expected: a write from a stale read, or the create of
	// a record that exists; the controllers read again.
	Conflicts float64 `json:"conflicts"`
	// The rest are unexpected: Throttled (429), ServerErrors (5xx), Transport
	// (no response: "<error>") and OtherClient (any other 4xx, such as 400,
	// 403 or 422: a request of the manager's own refused).
	Throttled    float64 `json:"throttled"`
	ServerErrors float64 `json:"serverErrors"`
	Transport    float64 `json:"transport"`
	OtherClient  float64 `json:"otherClientErrors"`
}

// ClassifyCodes sorts rest_client_requests_total's values by code into classes.
func ClassifyCodes(byCode map[string]float64) APICounts {
	var a APICounts
	for code, n := range byCode {
		a.Requests += n
		c, err := strconv.Atoi(code)
		switch {
		case err != nil:
			a.Transport += n
		case c == 404:
			a.NotFound += n
		case c == 409:
			a.Conflicts += n
		case c == 410:
			a.Gone += n
		case c == 429:
			a.Throttled += n
		case c >= 500:
			a.ServerErrors += n
		case c >= 400:
			a.OtherClient += n
		}
	}
	return a
}

// Unexpected are the requests whose result no churn explains.
func (a APICounts) Unexpected() float64 {
	return a.Throttled + a.ServerErrors + a.Transport + a.OtherClient
}

// Sub is a - b.
func (a APICounts) Sub(b APICounts) APICounts {
	return APICounts{Requests: a.Requests - b.Requests, NotFound: a.NotFound - b.NotFound, Gone: a.Gone - b.Gone,
		Conflicts: a.Conflicts - b.Conflicts, Throttled: a.Throttled - b.Throttled, ServerErrors: a.ServerErrors - b.ServerErrors,
		Transport: a.Transport - b.Transport, OtherClient: a.OtherClient - b.OtherClient}
}

// LoadCounts are what the load generator did, counted from the soak's start.
type LoadCounts struct {
	// EvidenceSent are evidence reports stored; EvidenceSkipped are ticks of
	// the rate the senders were too busy to take; TierChanges are the reports
	// that move a partner's tier.
	EvidenceSent    int64 `json:"evidenceSent"`
	EvidenceSkipped int64 `json:"evidenceSkipped"`
	TierChanges     int64 `json:"tierChanges"`
	// RequestsFiled are ExceptionRequests filed, RequestsDecided those seen
	// Approved or Denied after their reviewers decided.
	RequestsFiled   int64 `json:"requestsFiled"`
	RequestsDecided int64 `json:"requestsDecided"`
	// Deals: registered, reported won by the CRM, seen Expired (protection
	// ended), deleted once ended.
	DealsRegistered int64 `json:"dealsRegistered"`
	DealsWon        int64 `json:"dealsWon"`
	DealsExpired    int64 `json:"dealsExpired"`
	DealsDeleted    int64 `json:"dealsDeleted"`
	// Listings created, updated (a version added or deprecated) and deleted.
	ListingsCreated int64 `json:"listingsCreated"`
	ListingsUpdated int64 `json:"listingsUpdated"`
	ListingsDeleted int64 `json:"listingsDeleted"`
	// Retried are the load's own expected refusals, retried: a write from a
	// stale read (409), a deletion refused until the controller has recorded
	// what the object stores.
	Retried int64 `json:"retried"`
	// Errors are the load's requests that failed unexpectedly (a webhook
	// refusing or failing, a timeout, a request never decided).
	Errors int64 `json:"errors"`
}

// Sub is l - b.
func (l LoadCounts) Sub(b LoadCounts) LoadCounts {
	return LoadCounts{EvidenceSent: l.EvidenceSent - b.EvidenceSent, EvidenceSkipped: l.EvidenceSkipped - b.EvidenceSkipped,
		TierChanges: l.TierChanges - b.TierChanges, RequestsFiled: l.RequestsFiled - b.RequestsFiled,
		RequestsDecided: l.RequestsDecided - b.RequestsDecided, DealsRegistered: l.DealsRegistered - b.DealsRegistered,
		DealsWon: l.DealsWon - b.DealsWon, DealsExpired: l.DealsExpired - b.DealsExpired, DealsDeleted: l.DealsDeleted - b.DealsDeleted,
		ListingsCreated: l.ListingsCreated - b.ListingsCreated, ListingsUpdated: l.ListingsUpdated - b.ListingsUpdated,
		ListingsDeleted: l.ListingsDeleted - b.ListingsDeleted, Retried: l.Retried - b.Retried, Errors: l.Errors - b.Errors}
}

// Unexpected counts every unexpected error in a sample: the manager's
// unexpected API results, its reconcile errors, failed readings and the
// load's unexpected errors.
func (s Sample) Unexpected() float64 {
	return s.API.Unexpected() + s.ReconcileErrors + float64(s.ScrapeErrors) + float64(s.Load.Errors)
}

// Quarter returns the samples of quarter q (1..4) of a soak of the given
// duration: those taken in ((q-1)·d/4, q·d/4].
func Quarter(samples []Sample, d time.Duration, q int) []Sample {
	lo, hi := float64(q-1)*d.Seconds()/4, float64(q)*d.Seconds()/4
	var out []Sample
	for _, s := range samples {
		if s.Seconds > lo && s.Seconds <= hi {
			out = append(out, s)
		}
	}
	return out
}

// Median of values (the mean of the middle two for an even count; NaN for none).
func Median(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// The verdicts, with their rules.
const (
	// VerdictRSS: |median RSS of the last quarter − median of the second| is at
	// most 10% of the second's. The first quarter is the warm-up.
	VerdictRSS = "last quarter's median RSS within 10% of the second quarter's"
	// VerdictGoroutines: the last quarter's largest goroutine count is at most
	// 110% of the second quarter's largest.
	VerdictGoroutines = "goroutines flat: the last quarter's max at most the second quarter's max + 10%"
	// VerdictErrors: no unexpected error over the soak (Sample.Unexpected of the last sample).
	VerdictErrors = "0 unexpected errors"
	// VerdictRecorded: after the load, every partner's newest tier decision
	// has its DecisionRecord and every partner's chain verifies (Recorded).
	VerdictRecorded = "every decision recorded: each partner's newest tier decision has its record and its chain verifies"
)

// RSSTolerance and GoroutineTolerance are the verdicts' margins.
const (
	RSSTolerance       = 0.10
	GoroutineTolerance = 0.10
)

// Verdict is one goal's outcome.
type Verdict struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// Verdicts judges the samples of a soak of duration d.
func Verdicts(samples []Sample, d time.Duration) []Verdict {
	second, last := Quarter(samples, d, 2), Quarter(samples, d, 4)
	var out []Verdict

	rss := Verdict{Name: VerdictRSS}
	if len(second) == 0 || len(last) == 0 {
		rss.Detail = fmt.Sprintf("no samples to compare (%d in the second quarter, %d in the last)", len(second), len(last))
	} else {
		a, b := Median(field(second, func(s Sample) float64 { return s.RSSMiB })), Median(field(last, func(s Sample) float64 { return s.RSSMiB }))
		change := (b - a) / a
		rss.Met = math.Abs(change) <= RSSTolerance
		la, lb := Median(field(second, func(s Sample) float64 { return s.LiveHeapMiB })), Median(field(last, func(s Sample) float64 { return s.LiveHeapMiB }))
		rss.Detail = fmt.Sprintf("median %.1f MiB in the second quarter, %.1f MiB in the last (%+.1f%%); live heap %.1f and %.1f MiB", a, b, 100*change, la, lb)
	}
	out = append(out, rss)

	g := Verdict{Name: VerdictGoroutines}
	if len(second) == 0 || len(last) == 0 {
		g.Detail = fmt.Sprintf("no samples to compare (%d in the second quarter, %d in the last)", len(second), len(last))
	} else {
		a, b := maxOf(second, func(s Sample) float64 { return float64(s.Goroutines) }), maxOf(last, func(s Sample) float64 { return float64(s.Goroutines) })
		g.Met = b <= a*(1+GoroutineTolerance)
		g.Detail = fmt.Sprintf("max %.0f in the second quarter, %.0f in the last (limit %.0f)", a, b, math.Floor(a*(1+GoroutineTolerance)))
	}
	out = append(out, g)

	e := Verdict{Name: VerdictErrors}
	if len(samples) == 0 {
		e.Detail = "no samples"
	} else {
		s := samples[len(samples)-1]
		e.Met = s.Unexpected() == 0
		e.Detail = fmt.Sprintf("manager API: %.0f throttled (429), %.0f server errors (5xx), %.0f without response, %.0f other 4xx; %.0f reconcile errors; %d failed readings; load: %d errors (expected and not counted: %.0f conflicts, %.0f not found, %.0f gone; %d load retries)",
			s.API.Throttled, s.API.ServerErrors, s.API.Transport, s.API.OtherClient, s.ReconcileErrors, s.ScrapeErrors, s.Load.Errors,
			s.API.Conflicts, s.API.NotFound, s.API.Gone, s.Load.Retried)
	}
	return append(out, e)
}

// RecordedVerdict judges the records check made after the load; err is the
// check's own failure (it could not read), which fails the verdict too.
func RecordedVerdict(r Recorded, err error) Verdict {
	v := Verdict{Name: VerdictRecorded, Met: err == nil && r.Partners > 0 && r.Complete()}
	switch {
	case err != nil:
		v.Detail = "the check failed: " + err.Error()
	case r.Partners == 0:
		v.Detail = "no partner was checked"
	default:
		v.Detail = fmt.Sprintf("%d partners, %d records in their chains; %d partners without the record of their newest decision, %d chains that do not verify (checked for %.0fs)",
			r.Partners, r.Records, len(r.Unrecorded), len(r.Unverified), r.Seconds)
		for _, m := range append(slices.Clone(r.Unrecorded), r.Unverified...) {
			v.Detail += "; " + m
		}
	}
	return v
}

func field(samples []Sample, f func(Sample) float64) []float64 {
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = f(s)
	}
	return out
}

func maxOf(samples []Sample, f func(Sample) float64) float64 {
	m := math.Inf(-1)
	for _, s := range samples {
		m = max(m, f(s))
	}
	return m
}

// Failed tells whether a verdict is not met.
func Failed(vs []Verdict) bool {
	for _, v := range vs {
		if !v.Met {
			return true
		}
	}
	return false
}

// PrintVerdicts prints one line per verdict, MET or NOT MET, with its figures.
func PrintVerdicts(w io.Writer, vs []Verdict) {
	for _, v := range vs {
		mark := "MET    "
		if !v.Met {
			mark = "NOT MET"
		}
		fmt.Fprintf(w, "    %s %s: %s\n", mark, v.Name, v.Detail)
	}
}

// Row is one line of the table: the reading at the end of a minute and the
// counters' growth since the previous row.
type Row struct {
	Minute int    `json:"minute"`
	At     Sample `json:"at"`
	// Delta is At minus the previous row's reading (counters only).
	Delta Sample `json:"delta"`
	// DecisionP99ms is the 99th percentile, over the minute, from sending an
	// evidence report that moves a tier to a watch seeing the new tier (0: none).
	DecisionP99ms float64 `json:"decisionP99ms"`
	// Objects are the objects stored by kind at the row's end (main.go counts them).
	Objects map[string]float64 `json:"objects,omitempty"`
	// EtcdMiB is etcd's database size at the row's end, as kube-apiserver
	// reports it (apiserver_storage_size_bytes; 0: not read).
	EtcdMiB float64 `json:"etcdMiB,omitempty"`
}

// NewRow is the row of minute m from the previous row's reading and this one.
func NewRow(m int, prev, cur Sample, p99ms float64) Row {
	d := Sample{API: cur.API.Sub(prev.API), ReconcileErrors: cur.ReconcileErrors - prev.ReconcileErrors,
		ScrapeErrors: cur.ScrapeErrors - prev.ScrapeErrors, Load: cur.Load.Sub(prev.Load)}
	return Row{Minute: m, At: cur, Delta: d, DecisionP99ms: p99ms}
}

// TableHeader is the table's header, in Markdown.
func TableHeader() string {
	cols := []string{"min", "RSS MiB", "heap MiB", "live heap MiB", "goroutines", "fds", "queue sum", "queue max", "API req", "409", "404+410",
		"unexpected", "reconcile err", "load err", "evidence", "tier moves", "pending", "decision p99 ms", "requests filed/decided",
		"deals reg/won/exp/del", "listings new/upd/del", "records stored", "etcd MiB"}
	return "| " + strings.Join(cols, " | ") + " |\n|" + strings.Repeat("---:|", len(cols))
}

// Format is the row in Markdown; counters are the minute's, "records stored"
// the DecisionRecords stored at its end ("-" when not counted).
func (r Row) Format() string {
	a, d := r.At, r.Delta
	queueMax := strconv.Itoa(a.QueueMax)
	if a.QueueMax > 0 {
		queueMax += " " + a.QueueMaxName
	}
	cells := []string{
		strconv.Itoa(r.Minute), fmt.Sprintf("%.1f", a.RSSMiB), fmt.Sprintf("%.1f", a.HeapMiB), fmt.Sprintf("%.1f", a.LiveHeapMiB), strconv.Itoa(a.Goroutines),
		strconv.Itoa(a.OpenFDs), strconv.Itoa(a.QueueDepth), queueMax,
		fmt.Sprintf("%.0f", d.API.Requests), fmt.Sprintf("%.0f", d.API.Conflicts), fmt.Sprintf("%.0f", d.API.NotFound+d.API.Gone),
		fmt.Sprintf("%.0f", d.API.Unexpected()+float64(d.ScrapeErrors)), fmt.Sprintf("%.0f", d.ReconcileErrors), strconv.FormatInt(d.Load.Errors, 10),
		strconv.FormatInt(d.Load.EvidenceSent, 10), strconv.FormatInt(d.Load.TierChanges, 10), strconv.Itoa(a.TiersPending),
		fmt.Sprintf("%.0f", r.DecisionP99ms),
		fmt.Sprintf("%d/%d", d.Load.RequestsFiled, d.Load.RequestsDecided),
		fmt.Sprintf("%d/%d/%d/%d", d.Load.DealsRegistered, d.Load.DealsWon, d.Load.DealsExpired, d.Load.DealsDeleted),
		fmt.Sprintf("%d/%d/%d", d.Load.ListingsCreated, d.Load.ListingsUpdated, d.Load.ListingsDeleted),
		"-", "-",
	}
	if n, ok := r.Objects["DecisionRecord"]; ok {
		cells[len(cells)-2] = fmt.Sprintf("%.0f", n)
	}
	if r.EtcdMiB > 0 {
		cells[len(cells)-1] = fmt.Sprintf("%.1f", r.EtcdMiB)
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

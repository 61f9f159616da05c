package main

// Issue 28, item 2: decision latency stated against the machine's own
// capacity. Before the decision phases the plain client does a decision's
// least writes as fast as it can (measureCapacity); the decision phases then
// offer shares of that capacity (offeredRate) and the goals judge latency and
// throughput there (verdictsAtCapacity), which holds on any machine, where a
// fixed rate says more about the box than about partnergov.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/harness"
	"github.com/partnergov/partnergov/test/testenv"
)

// The shares of the measured capacity the decision phases offer, and issue
// 28's goals at them.
const (
	shareHalf = 0.5
	shareMost = 0.8
	// At shareMost: decision p50 and p99 at most these, ms.
	goalMostP50ms, goalMostP99ms = 150, 500
	// At shareHalf: decision p99 at most this, ms.
	goalHalfP99ms = 250
	// At shareMost: decisions settled a second over those offered, at least.
	goalSettledShare = 0.9
)

// capacityNamespace holds the plain client's partners while the capacity is
// measured; it is deleted (with their records) before the manager leads again.
const capacityNamespace = "bench-capacity"

// capacityPartners is the most partners the capacity phase spreads its
// decisions over (N when fewer).
const capacityPartners = 500

// DecisionCapacity is the machine's decision capacity: the plain client (the
// manager's identity, QPS, burst and concurrency for its writes; the evidence
// from an unlimited integration client, as in the decision phases) doing a
// decision's least writes, one after the other, as fast as it can for a fixed
// time: the evidence patch that changes the tier, one status patch (the
// decided status, as the manager applies it) and one DecisionRecord create,
// against the same API server and store as the manager.
type DecisionCapacity struct {
	// PerSecond is Decisions / Seconds.
	PerSecond float64
	// Decisions are those completed (all three writes) from the start until
	// the last worker returned, Seconds later.
	Decisions int
	Seconds   float64
	// Workers is the plain client's concurrency; Partners how many partners
	// (in capacityNamespace, with the status of a decided bench partner) it
	// spread the decisions over.
	Workers, Partners int
}

// LoadPhase is a decision phase that offered a share of the measured
// capacity: tier-changing evidence updates at Rate a second for the phase's
// time, each settled (the new tier seen by a watch) before the phase ends.
type LoadPhase struct {
	// Share is of DecisionCapacity.PerSecond; Rate is offeredRate of it.
	Share float64
	Rate  int
	// Decisions are the updates sent; Seconds runs from the phase's start
	// (Rate updates a second from then on, for -decision-for) to the last new
	// tier seen; Settled is partnergov's sustained throughput, Decisions /
	// Seconds.
	Decisions int
	Seconds   float64
	Settled   float64
	// Decision is each decision's latency (from sending its update to the
	// new tier seen), UpdateRoundTrip the update's own request.
	Decision, UpdateRoundTrip Latency
}

// offeredRate is share of capacity in whole updates a second (decide's
// ticker), rounded to the nearest and at least 1; 0 without a capacity.
func offeredRate(capacity, share float64) int {
	if capacity <= 0 || share <= 0 {
		return 0
	}
	return max(1, int(math.Round(capacity*share)))
}

// settledRate is decisions settled a second over a phase of seconds; 0 for
// a phase that took no time.
func settledRate(decisions int, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(decisions) / seconds
}

// OfOffered is the throughput ratio the goal judges: decisions settled a
// second over the rate offered. Below 1 by how much the phase ran past its
// offered time to settle its last decisions; a controller that falls behind
// the offered rate settles its backlog late, and the ratio falls with it.
// (Over the capacity itself it could not pass the share offered, 0.8.)
func (p LoadPhase) OfOffered() float64 {
	if p.Rate <= 0 {
		return 0
	}
	return p.Settled / float64(p.Rate)
}

// OfCapacity is the settled rate over the measured capacity, reported beside
// the ratio: at most about the share offered.
func (p LoadPhase) OfCapacity(capacity float64) float64 {
	if capacity <= 0 {
		return 0
	}
	return p.Settled / capacity
}

// phaseAt is x's decision phase at share of the capacity, nil when it was not
// measured (results from before issue 28, or -capacity-for 0).
func (x Result) phaseAt(share float64) *LoadPhase {
	for i := range x.AtCapacity {
		if x.AtCapacity[i].Share == share {
			return &x.AtCapacity[i]
		}
	}
	return nil
}

// capacityVerdict is one size's verdicts on issue 28's capacity goals.
type capacityVerdict struct {
	// Most: at 80% of capacity, p50 ≤ 150 ms and p99 ≤ 500 ms. Half: at 50%,
	// p99 ≤ 250 ms. Settled: at 80%, at least 0.9 of the offered decisions a
	// second settled.
	Most, Half, Settled bool
}

// verdictsAtCapacity judges one size. A phase not measured, or without a
// latency sample, meets nothing.
func verdictsAtCapacity(x Result) capacityVerdict {
	var v capacityVerdict
	if p := x.phaseAt(shareMost); p != nil {
		v.Most = p.Decision.Samples > 0 && p.Decision.P50ms <= goalMostP50ms && p.Decision.P99ms <= goalMostP99ms
		v.Settled = p.OfOffered() >= goalSettledShare
	}
	if p := x.phaseAt(shareHalf); p != nil {
		v.Half = p.Decision.Samples > 0 && p.Decision.P99ms <= goalHalfP99ms
	}
	return v
}

// capacityGoals adds issue 28's capacity goals when any size measured them;
// a size that did not is NOT MET ("not measured").
func (r Report) capacityGoals(check func(ok bool, format string, args ...any)) {
	if !slices.ContainsFunc(r.Results, func(x Result) bool { return x.DecisionCapacity != nil }) {
		return
	}
	var most, half, settled []string
	okMost, okHalf, okSettled := true, true, true
	for _, x := range r.Results {
		v := verdictsAtCapacity(x)
		okMost, okHalf, okSettled = okMost && v.Most, okHalf && v.Half, okSettled && v.Settled
		c := x.DecisionCapacity
		m, h := x.phaseAt(shareMost), x.phaseAt(shareHalf)
		if c == nil || m == nil {
			most = append(most, fmt.Sprintf("%d: not measured", x.Partners))
			settled = append(settled, fmt.Sprintf("%d: not measured", x.Partners))
		} else {
			most = append(most, fmt.Sprintf("%d: %.0f/%.0fms at %d/s of %.1f/s", x.Partners, m.Decision.P50ms, m.Decision.P99ms, m.Rate, c.PerSecond))
			settled = append(settled, fmt.Sprintf("%d: %.1f/s of %d/s offered, %.2f; %.2f of capacity", x.Partners, m.Settled, m.Rate, m.OfOffered(), m.OfCapacity(c.PerSecond)))
		}
		if c == nil || h == nil {
			half = append(half, fmt.Sprintf("%d: not measured", x.Partners))
		} else {
			half = append(half, fmt.Sprintf("%d: %.0fms at %d/s", x.Partners, h.Decision.P99ms, h.Rate))
		}
	}
	check(okMost, "at 80%% of the measured decision capacity, decision p50 at most %dms and p99 at most %dms (%s)", goalMostP50ms, goalMostP99ms, strings.Join(most, ", "))
	check(okHalf, "at 50%% of the measured decision capacity, decision p99 at most %dms (%s)", goalHalfP99ms, strings.Join(half, ", "))
	check(okSettled, "at 80%% of the measured decision capacity, decisions settled a second at least %.1f of those offered (%s)", goalSettledShare, strings.Join(settled, ", "))
}

// capacityColumn renders a size's capacity for the table ("-" when not measured).
func capacityColumn(x Result) string {
	if x.DecisionCapacity == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", x.DecisionCapacity.PerSecond)
}

// shareColumn renders a size's decision phase at share for the table ("-"
// when not measured): p50 / p99 ms at the rate, and at 80% the settled ratio.
func shareColumn(x Result, share float64) string {
	p := x.phaseAt(share)
	if p == nil {
		return "-"
	}
	s := fmt.Sprintf("%.0f / %.0f (%d/s)", p.Decision.P50ms, p.Decision.P99ms, p.Rate)
	if share == shareMost {
		s += fmt.Sprintf(", settled %.2f", p.OfOffered())
	}
	return s
}

// statusTemplate is a decided bench partner's status as the manager applies
// it (everything but the evidence) and its newest decision.
type statusTemplate struct {
	status   map[string]any
	decision v1alpha1.TierDecision
}

// statusTemplates reads, for each bench tier, the status of a partner of ns
// the manager decided at it (among the first n).
func statusTemplates(ctx context.Context, c client.Client, ns string, n int) ([]statusTemplate, error) {
	out := make([]statusTemplate, len(harness.Tiers))
	found := 0
	for i := 0; i < n && found < len(out); i++ {
		var p v1alpha1.Partner
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: harness.PartnerName(i)}, &p); err != nil {
			return nil, err
		}
		rank := slices.Index(harness.Tiers, p.Status.Tier)
		if rank < 0 || out[rank].status != nil || len(p.Status.History) == 0 {
			continue
		}
		st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&p.Status)
		if err != nil {
			return nil, err
		}
		delete(st, "evidence") // the integrations' field, which the manager never sends
		out[rank] = statusTemplate{status: st, decision: p.Status.History[len(p.Status.History)-1]}
		found++
	}
	for rank, t := range out {
		if t.status == nil {
			return nil, fmt.Errorf("no partner of %s decided at tier %s to copy the status of", ns, harness.Tiers[rank])
		}
	}
	return out, nil
}

// applyDecidedStatus server-side-applies status to a partner of the capacity
// namespace as the manager does (its identity and field manager, every field
// but the evidence).
func applyDecidedStatus(ctx context.Context, manager client.Client, name string, status map[string]any) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Partner",
		"metadata": map[string]any{"name": name, "namespace": capacityNamespace},
		"status":   runtime.DeepCopyJSON(status),
	}}
	return manager.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(controllers.FieldOwner), client.ForceOwnership)
}

// measureCapacity measures DecisionCapacity while the manager follows (it
// serves the webhooks and decides nothing): partners of capacityNamespace
// get the status of a decided bench partner, then c.concurrency workers
// decide them, each decision moving its partner one tier up (the top wraps)
// with the three writes, for c.capacityFor. The namespace is deleted
// afterwards (kube-controller-manager's namespace controller empties it, as in
// a cluster: nobody else may delete partners and records early).
func measureCapacity(ctx context.Context, c config, cl *harness.Cluster, ns string, n int) (*DecisionCapacity, error) {
	var program v1alpha1.PartnerProgram
	if err := cl.Admin.Get(ctx, types.NamespacedName{Name: harness.Program}, &program); err != nil {
		return nil, err
	}
	retention := v1alpha1.RecordRetention(&program)
	templates, err := statusTemplates(ctx, cl.Admin, ns, n)
	if err != nil {
		return nil, err
	}
	twins := min(n, capacityPartners)
	if err := cl.Namespace(ctx, capacityNamespace); err != nil {
		return nil, err
	}
	if err := cl.CreatePartners(ctx, capacityNamespace, twins, c.loadWorkers); err != nil {
		return nil, err
	}
	reporter, err := cl.ReporterClient(0, 0)
	if err != nil {
		return nil, err
	}
	manager, err := cl.UserClient(float32(c.qps), c.burst, testenv.ManagerUser)
	if err != nil {
		return nil, err
	}
	partners := make([]v1alpha1.Partner, twins)
	rank, seq := make([]int, twins), make([]int, twins)
	locks := make([]sync.Mutex, twins)
	// Each starts as a bench partner the manager decided: its evidence and
	// its decided status.
	if err := harness.Parallel(ctx, twins, c.loadWorkers, func(ctx context.Context, i int) error {
		rank[i] = i % len(harness.Tiers)
		name := harness.PartnerName(i)
		if err := harness.ReportEvidence(ctx, reporter, capacityNamespace, name, rank[i], 0); err != nil {
			return err
		}
		if err := applyDecidedStatus(ctx, manager, name, templates[rank[i]].status); err != nil {
			return err
		}
		return cl.Admin.Get(ctx, types.NamespacedName{Namespace: capacityNamespace, Name: name}, &partners[i])
	}); err != nil {
		return nil, fmt.Errorf("preparing the capacity phase's partners: %w", err)
	}
	decideOne := func(ctx context.Context, k int) error {
		i := k % twins
		locks[i].Lock()
		defer locks[i].Unlock()
		rank[i] = (rank[i] + 1) % len(harness.Tiers)
		seq[i]++
		t, name := templates[rank[i]], harness.PartnerName(i)
		if err := harness.ReportEvidence(ctx, reporter, capacityNamespace, name, rank[i], seq[i]); err != nil {
			return fmt.Errorf("evidence: %w", err)
		}
		if err := applyDecidedStatus(ctx, manager, name, t.status); err != nil {
			return fmt.Errorf("status: %w", err)
		}
		d := *t.decision.DeepCopy()
		d.Time = metav1.Now()
		rec := record.TierChange(&partners[i], d, controllers.FieldOwner, retention)
		rec.Name = fmt.Sprintf("%s-tier-plain-%08d", name, k) // one a decision, whatever its time
		if err := manager.Create(ctx, rec); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		return nil
	}
	var next, completed atomic.Int64
	var once sync.Once
	var failed error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(c.capacityFor)
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := decideOne(ctx, int(next.Add(1)-1)); err != nil {
					once.Do(func() { failed = err })
					return
				}
				completed.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	if failed != nil {
		return nil, fmt.Errorf("plain client: %w", failed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := &DecisionCapacity{Decisions: int(completed.Load()), Seconds: took, Workers: c.concurrency, Partners: twins}
	out.PerSecond = settledRate(out.Decisions, out.Seconds)
	return out, deleteNamespace(ctx, cl, capacityNamespace, c.convergeBudget)
}

// deleteNamespace deletes a namespace with the namespace controller running
// and waits until it is gone.
func deleteNamespace(ctx context.Context, cl *harness.Cluster, name string, timeout time.Duration) error {
	nc, err := cl.StartNamespaceController(ctx)
	if err != nil {
		return err
	}
	defer nc.Stop()
	if err := cl.Admin.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var ns corev1.Namespace
		switch err := cl.Admin.Get(ctx, types.NamespacedName{Name: name}, &ns); {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		case time.Now().After(deadline):
			return fmt.Errorf("namespace %s not gone after %s", name, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

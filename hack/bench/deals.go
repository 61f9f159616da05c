package main

// The deal phase of `make bench`: how fast the manager decides deal
// registrations, against the plain-client limit, and how many writes each
// registration costs. It runs once, on its own control plane, after the
// partner sizes (its figures do not depend on N: the deal controller reads
// registrations by product line and locks by name, never every partner).

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/harness"
	"github.com/partnergov/partnergov/test/testenv"
)

// The load's mix. Registration i is for customer i%customers, the k=i/customers-th
// registration of that customer, by partner (customer+k)%partners: a customer
// registered more than once is registered by different partners, the first
// holds and the others queue. A customer's product line is one of dealLines.
// Of the customers registered once, every 20th is registered CoSell, which the
// bench tiers do not grant (Rejected NotEntitled). The first registration of
// every 10th customer is for more than the program's autoApprove.maxAmount
// (UnderReview: the controller opens its review request).
const (
	dealLines       = 4
	dealAmount      = "25000"
	dealLargeAmount = "250000"
	dealMaxAuto     = "100000"
)

// dealSpec is the load's registration i.
func dealSpec(i, customers, partners, registrations int) v1alpha1.DealRegistrationSpec {
	c, k := i%customers, i/customers
	s := v1alpha1.DealRegistrationSpec{
		Partner:     harness.PartnerName((c + k) % partners),
		Type:        v1alpha1.DealResale,
		Customer:    v1alpha1.Customer{Name: fmt.Sprintf("Bench Customer %05d", c), Domain: fmt.Sprintf("customer-%05d.com", c)},
		ProductLine: fmt.Sprintf("line-%d", c%dealLines),
		Amount:      v1alpha1.Money{Amount: dealAmount, Currency: "USD"},
	}
	registeredOnce := c+customers >= registrations
	if registeredOnce && c%20 == 19 {
		s.Type = v1alpha1.DealCoSell
	}
	if k == 0 && c%10 == 5 {
		s.Amount.Amount = dealLargeAmount
	}
	return s
}

// measureDeals runs the deal phase on a fresh control plane.
func measureDeals(ctx context.Context, c config, root, bin string) (*DealsResult, error) {
	r := &DealsResult{Registrations: c.deals, Partners: c.dealPartners, Customers: c.dealCustomers}
	cl, err := harness.Start(ctx, filepath.Join(root, "bin", "bench", "deals"))
	if err != nil {
		return r, err
	}
	defer cl.Stop()
	cl.SetManagerBinary(bin)
	if err := cl.HoldLease(ctx); err != nil {
		return r, err
	}
	mo := harness.ManagerOptions{QPS: float32(c.qps), Burst: c.burst, MaxConcurrentReconciles: c.concurrency}
	mgr, err := cl.StartManager(ctx, "manager", mo)
	if err != nil {
		return r, err
	}
	defer mgr.Kill()
	const ns = "bench-deals"
	if err := cl.Namespace(ctx, ns); err != nil {
		return r, err
	}
	if err := cl.InstallProgram(ctx); err != nil {
		return r, err
	}
	rules, err := json.Marshal(map[string]any{"spec": map[string]any{"dealRegistration": v1alpha1.DealRegistrationRules{
		AutoApprove: &v1alpha1.DealAutoApproval{MaxAmount: &v1alpha1.Money{Amount: dealMaxAuto, Currency: "USD"}},
	}}})
	if err != nil {
		return r, err
	}
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: harness.Program}}
	if err := cl.Admin.Patch(ctx, program, client.RawPatch(types.MergePatchType, rules)); err != nil {
		return r, err
	}

	// The partners hold the entry tier (it grants Resell) before anyone registers.
	tracker, err := cl.Track(ctx, ns)
	if err != nil {
		return r, err
	}
	defer tracker.Stop()
	if err := cl.CreatePartners(ctx, ns, c.dealPartners, c.loadWorkers); err != nil {
		return r, err
	}
	for i := range c.dealPartners {
		tracker.Expect(harness.PartnerName(i), harness.Tiers[0], time.Time{})
	}
	if err := cl.ReleaseLease(ctx); err != nil {
		return r, err
	}
	if _, err := tracker.Wait(ctx, c.convergeBudget); err != nil {
		return r, fmt.Errorf("partners: %w", err)
	}
	if _, err := quiet(ctx, mgr); err != nil { // their integration objects too
		return r, err
	}
	var mem Result
	if err := pause(ctx, cl, mgr, &mem); err != nil {
		return r, err
	}
	deals, err := trackDeals(ctx, cl, ns)
	if err != nil {
		return r, err
	}
	defer deals.stop()

	// The registrations are created while the manager is a follower: it serves
	// the admission webhooks (stamping, validation) and decides nothing.
	start := time.Now()
	if err := harness.Parallel(ctx, c.deals, c.loadWorkers, func(ctx context.Context, i int) error {
		return cl.Admin.Create(ctx, &v1alpha1.DealRegistration{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("r-%05d", i)},
			Spec:       dealSpec(i, c.dealCustomers, c.dealPartners, c.deals),
		})
	}); err != nil {
		return r, fmt.Errorf("registering: %w", err)
	}
	r.CreateSeconds = time.Since(start).Seconds()
	fmt.Printf("registered %d deals (%d partners, %d customers) through the webhooks in %.1fs (%.0f/s, load generator)\n",
		c.deals, c.dealPartners, c.dealCustomers, r.CreateSeconds, float64(c.deals)/r.CreateSeconds)

	// Decision: from the manager taking the lease to every registration seen
	// with a decided phase.
	before, err := writes(mgr)
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
	done, err := deals.wait(ctx, c.deals, c.convergeBudget)
	if err != nil {
		return r, fmt.Errorf("deal decisions: %w", err)
	}
	r.Seconds = done.Sub(start).Seconds()
	r.PerSecond = float64(c.deals) / r.Seconds
	after, err := quiet(ctx, mgr)
	if err != nil {
		return r, err
	}
	w := after.Sub(before)
	r.countWrites(w)
	r.FirstPhases, r.Phases = deals.phases()
	fmt.Printf("  writes by verb and resource: %v\n", w.ByResource)
	fmt.Printf("deal decisions: %d in %.1fs (%.0f/s); first decided phases: %s; after settling: %s\n", c.deals, r.Seconds, r.PerSecond, phaseText(r.FirstPhases), phaseText(r.Phases))
	fmt.Printf("  per registration: %.2f object writes (%.2f status, %.2f lock, %.2f record, %.2f review request, %.2f other), %.2f events\n",
		r.Writes/float64(c.deals), r.StatusWrites/float64(c.deals), r.LockWrites/float64(c.deals), r.RecordWrites/float64(c.deals),
		r.RequestWrites/float64(c.deals), r.OtherWrites/float64(c.deals), r.Events/float64(c.deals))
	if err := pause(ctx, cl, mgr, &mem); err != nil {
		return r, err
	}
	r.PeakRSSMiB = mem.PeakRSSMiB

	// The limit: a plain client with the manager's identity, QPS, burst and
	// concurrency does the least any implementation must write to decide a
	// registration, for a second set of registrations with the same phases:
	// the lock (for one that holds its customer), the decided status (one
	// write, through the same status webhook) and the DecisionRecord of the
	// decision (every transition is recorded). Above -plain-max writes the
	// time for all is extrapolated from its measured rate.
	return r, plainDeals(ctx, c, cl, ns, r, deals.seen())
}

// countWrites splits the manager's writes of the phase.
func (r *DealsResult) countWrites(w harness.Writes) {
	r.Writes, r.Events, r.ByResource = w.Objects, w.Events, w.ByResource
	for k, v := range w.ByResource {
		_, resource, _ := strings.Cut(k, " ")
		switch resource {
		case "dealregistrations/status":
			r.StatusWrites += v
		case "deallocks":
			r.LockWrites += v
		case "decisionrecords", "recordchains": // a record and its chain head's write
			r.RecordWrites += v
		case "exceptionrequests", "exceptionrequests/status":
			r.RequestWrites += v
		}
	}
	r.OtherWrites = r.Writes - r.StatusWrites - r.LockWrites - r.RecordWrites - r.RequestWrites
}

// plainDeals measures the plain-client limit (see measureDeals).
func plainDeals(ctx context.Context, c config, cl *harness.Cluster, ns string, r *DealsResult, decided map[string]*v1alpha1.DealRegistration) error {
	var program v1alpha1.PartnerProgram
	if err := cl.Admin.Get(ctx, types.NamespacedName{Name: harness.Program}, &program); err != nil {
		return err
	}
	n := c.deals
	holds := func(i int) bool {
		p := decided[fmt.Sprintf("r-%05d", i)].Status.Phase
		return p == v1alpha1.DealApproved || p == v1alpha1.DealUnderReview
	}
	writesOf := func(i int) int {
		if holds(i) {
			return 3
		}
		return 2
	}
	total, plain := 0, 0
	for i := range n {
		total += writesOf(i)
		if total <= c.plainMax {
			plain = i + 1
		}
	}
	plain = max(plain, 1)
	twins := make([]*v1alpha1.DealRegistration, plain)
	if err := harness.Parallel(ctx, plain, c.loadWorkers, func(ctx context.Context, i int) error {
		d := &v1alpha1.DealRegistration{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("plain-%05d", i)},
			Spec:       dealSpec(i, c.dealCustomers, c.dealPartners, c.deals),
		}
		d.Spec.Customer.Domain = "plain-" + d.Spec.Customer.Domain
		twins[i] = d
		return cl.Admin.Create(ctx, d)
	}); err != nil {
		return fmt.Errorf("registering the plain client's set: %w", err)
	}
	pc, err := cl.UserClient(float32(c.qps), c.burst, testenv.ManagerUser)
	if err != nil {
		return err
	}
	sent := 0
	var mu sync.Mutex
	start := time.Now()
	if err := harness.Parallel(ctx, plain, c.concurrency, func(ctx context.Context, i int) error {
		d, model := twins[i], decided[fmt.Sprintf("r-%05d", i)]
		key := harness.Program + "/plain:" + d.Name
		st := model.Status.DeepCopy()
		st.ConflictKey, st.ConflictKeys, st.Lock, st.Outcome, st.RecordedSequence = key, []string{key}, deal.LockName(key), nil, 0
		if n := len(st.History); n > 0 {
			st.History = []v1alpha1.DealEvent{st.History[n-1]}
			st.History[0].Sequence = 1
		}
		k := 0
		if holds(i) {
			lock := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: deal.LockName(key)}, Spec: v1alpha1.DealLockSpec{
				Program: harness.Program, ConflictKey: key, Holder: deal.HolderOf(d), Since: metav1.NowMicro(),
			}}
			if err := pc.Create(ctx, lock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			k++
		}
		status, err := statusMap(st)
		if err != nil {
			return err
		}
		patch := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1alpha1.GroupVersion.String(), "kind": "DealRegistration",
			"metadata": map[string]any{"name": d.Name, "namespace": d.Namespace, "resourceVersion": d.ResourceVersion},
			"status":   status,
		}}
		if err := pc.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), client.FieldOwner("bench-plain"), client.ForceOwnership); err != nil {
			return fmt.Errorf("status: %w", err)
		}
		recorded := d.DeepCopy()
		recorded.Status = *st
		for _, rec := range record.DealTransitions(recorded, harness.Program, "bench-plain", v1alpha1.RecordRetention(&program)) {
			if err := pc.Create(ctx, rec); err != nil {
				return fmt.Errorf("record: %w", err)
			}
			k++
		}
		mu.Lock()
		sent += k + 1
		mu.Unlock()
		return nil
	}); err != nil {
		return fmt.Errorf("plain client: %w", err)
	}
	took := time.Since(start).Seconds()
	r.PlainWrites, r.PlainRegistrations, r.PlainSent = total, plain, sent
	r.PlainSeconds = took * float64(total) / float64(sent)
	r.Ratio = r.Seconds / r.PlainSeconds
	fmt.Printf("plain client: %d registrations decided with %d writes in %.1fs (%.0f writes/s); for %d registrations (%d writes): %.1fs, %.0f/s (controller/plain %.2fx)\n",
		plain, sent, took, float64(sent)/took, n, total, r.PlainSeconds, float64(n)/r.PlainSeconds, r.Ratio)
	return nil
}

// statusMap is a status as the API serialises it.
func statusMap(st *v1alpha1.DealRegistrationStatus) (map[string]any, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// dealTracker watches a namespace's registrations and notes the first decided
// phase each is seen with.
type dealTracker struct {
	mu      sync.Mutex
	first   map[string]v1alpha1.DealPhase
	last    map[string]*v1alpha1.DealRegistration
	changed chan struct{}
	stop    context.CancelFunc
}

// trackDeals starts watching with the admin identity.
func trackDeals(ctx context.Context, cl *harness.Cluster, namespace string) (*dealTracker, error) {
	ca, err := cache.New(harness.Unlimited(cl.Env.Config), cache.Options{
		Scheme: app.Scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, err
	}
	inf, err := ca.GetInformer(ctx, &v1alpha1.DealRegistration{})
	if err != nil {
		return nil, err
	}
	t := &dealTracker{first: map[string]v1alpha1.DealPhase{}, last: map[string]*v1alpha1.DealRegistration{}, changed: make(chan struct{}, 1)}
	on := func(obj any) {
		d, ok := obj.(*v1alpha1.DealRegistration)
		if !ok || !strings.HasPrefix(d.Name, "r-") {
			return
		}
		t.mu.Lock()
		t.last[d.Name] = d
		if _, seen := t.first[d.Name]; !seen && decided(d.Status.Phase) {
			t.first[d.Name] = d.Status.Phase
		}
		t.mu.Unlock()
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, obj any) { on(obj) }}); err != nil {
		return nil, err
	}
	ctx, t.stop = context.WithCancel(ctx)
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("deal tracker cache did not sync")
	}
	return t, nil
}

// decided: the controller's first decision about a registration.
func decided(p v1alpha1.DealPhase) bool {
	switch p {
	case v1alpha1.DealApproved, v1alpha1.DealQueued, v1alpha1.DealRejected, v1alpha1.DealUnderReview:
		return true
	}
	return false
}

// wait waits until n registrations have been seen decided.
func (t *dealTracker) wait(ctx context.Context, n int, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	count := func() int { t.mu.Lock(); defer t.mu.Unlock(); return len(t.first) }
	for {
		if count() >= n {
			return time.Now(), nil
		}
		select {
		case <-t.changed:
		case <-time.After(time.Second):
		case <-deadline:
			return time.Time{}, fmt.Errorf("%d of %d registrations undecided after %s", n-count(), n, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// phases counts the first decided phases and the phases as last seen.
func (t *dealTracker) phases() (first, last map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first, last = map[string]int{}, map[string]int{}
	for _, p := range t.first {
		first[string(p)]++
	}
	for _, d := range t.last {
		last[string(d.Status.Phase)]++
	}
	return first, last
}

// seen is every registration as last seen.
func (t *dealTracker) seen() map[string]*v1alpha1.DealRegistration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]*v1alpha1.DealRegistration, len(t.last))
	for k, v := range t.last {
		out[k] = v
	}
	return out
}

// phaseText prints phase counts in a fixed order.
func phaseText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

package harness

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
)

// Tracker watches the partners of a namespace and tells when each holds the tier
// the harness expects, and how long after its evidence was stored.
type Tracker struct {
	mu       sync.Mutex
	want     map[string]string
	have     map[string]string
	matched  int
	since    map[string]time.Time // when the evidence the expectation follows was stored
	samples  []time.Duration
	changed  chan struct{}
	stopping context.CancelFunc
}

// Track starts watching the namespace's partners with the admin identity.
func (c *Cluster) Track(ctx context.Context, namespace string) (*Tracker, error) {
	ca, err := cache.New(Unlimited(c.Env.Config), cache.Options{
		Scheme: app.Scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, err
	}
	inf, err := ca.GetInformer(ctx, &v1alpha1.Partner{})
	if err != nil {
		return nil, err
	}
	t := &Tracker{want: map[string]string{}, have: map[string]string{}, since: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	on := func(obj any) {
		if p, ok := obj.(*v1alpha1.Partner); ok {
			t.observe(p.Name, p.Status.Tier, time.Now())
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: on, UpdateFunc: func(_, obj any) { on(obj) },
	}); err != nil {
		return nil, err
	}
	ctx, t.stopping = context.WithCancel(ctx)
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("tracker cache did not sync")
	}
	return t, nil
}

// Stop stops watching.
func (t *Tracker) Stop() { t.stopping() }

func (t *Tracker) observe(name, tier string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	want, expected := t.want[name]
	was := expected && t.have[name] == want
	t.have[name] = tier
	is := expected && tier == want
	switch {
	case is && !was:
		t.matched++
		if s, ok := t.since[name]; ok {
			t.samples = append(t.samples, at.Sub(s))
			delete(t.since, name)
		}
	case was && !is:
		t.matched--
	}
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// Expect records that the partner should come to hold tier; storedAt (if not zero)
// is when the evidence behind it was stored, for a latency sample.
func (t *Tracker) Expect(name, tier string, storedAt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, expected := t.want[name]
	was := expected && t.have[name] == old
	t.want[name] = tier
	is := t.have[name] == tier
	switch {
	case is && !was:
		t.matched++
	case was && !is:
		t.matched--
	}
	if !storedAt.IsZero() && !is {
		t.since[name] = storedAt
	} else {
		delete(t.since, name)
	}
}

// Pending is how many partners do not hold their expected tier yet.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.want) - t.matched
}

// Wait waits until every expected partner holds its tier and returns when that
// was first observed.
func (t *Tracker) Wait(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		if n := t.Pending(); n == 0 {
			return time.Now(), nil
		}
		select {
		case <-t.changed:
		case <-time.After(time.Second):
		case <-deadline:
			return time.Time{}, fmt.Errorf("%d partners still without their expected tier after %s", t.Pending(), timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// Latencies returns and clears the latency samples, sorted.
func (t *Tracker) Latencies() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.samples
	t.samples = nil
	sortDurations(s)
	return s
}

func sortDurations(s []time.Duration) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }

// Quantile of sorted durations (q in 0..1).
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

var _ client.Object = &v1alpha1.Partner{}

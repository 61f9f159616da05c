package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
)

// TierRecorder keeps a DecisionRecord for every tier decision a Partner's
// status holds, and one (a LifecycleChange) for every lifecycle transition of
// status.lifecycle.transitions. It is a controller of its own, with its own queue and
// workers, so the partner workers that decide write only the status and are
// free for the next decision while the record is created: a decision is in
// force once its status is stored, and the record follows it.
//
// Only what is stored is recorded: the recorder reads the history the partner
// controller wrote, never one it is about to write. Record names derive from
// the decisions, so a crash anywhere records each decision later, once. The
// manager keeps no record in memory (records accumulate for years): the
// recorder remembers, per partner, the name of the newest record of each kind
// it knows exists, so its memory grows with partners, not with history. A
// partner it has not seen since it started costs one uncached read of its
// newest record's name; a create refused as AlreadyExists is success. A
// decision without a valid seal (written past the webhooks) is not recorded:
// the engine replaces it. Nor is one older than the program's record
// retention: its record was made and pruned, and is not made again.
type TierRecorder struct {
	client.Client
	// APIReader reads a record's existence from the API server, uncached.
	APIReader client.Reader
	Clock     clock.PassiveClock
	// Seals verify the decisions; nil when sealing is off.
	Seals *seal.Keys
	// Chain creates the records, each in its partner's chain.
	Chain *Chain

	mu sync.Mutex
	// newest is, per partner (namespace/name), the UID it had and the names
	// of the newest tier and lifecycle records known to exist.
	newest map[types.NamespacedName]recordedUpTo
}

// recordedUpTo is what the recorder knows is recorded of one partner.
type recordedUpTo struct {
	uid             types.UID
	tier, lifecycle string
}

// Reconcile records the partner's stored tier decisions and lifecycle
// transitions that have no record yet.
func (r *TierRecorder) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p v1alpha1.Partner
	if err := r.Get(ctx, req.NamespacedName, &p); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if len(p.Status.History) == 0 && lifecycleTransitionsOf(&p) == nil {
		return ctrl.Result{}, nil
	}
	var program *v1alpha1.PartnerProgram
	var pp v1alpha1.PartnerProgram
	switch err := r.Get(ctx, types.NamespacedName{Name: p.Spec.Program}, &pp); {
	case err == nil:
		program = &pp
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	now := r.Clock.Now()
	retention := v1alpha1.RecordRetention(program)
	var tiers, lifecycle []*recordsv1alpha1.DecisionRecord
	for i, d := range p.Status.History {
		if tierRecordable(r.Seals, &p, p.Status.History, i, now, retention) {
			tiers = append(tiers, record.TierChange(&p, d, FieldOwner, retention))
		}
	}
	// Lifecycle transitions are recorded the same way, from a sealed lifecycle
	// only: one written past the webhooks records nothing (the controller
	// decides the partner's lifecycle again).
	for _, t := range lifecycleTransitionsOf(&p) {
		if now.Before(t.Time.Add(retention)) && r.Seals.LifecycleSealed(&p) {
			lifecycle = append(lifecycle, record.LifecycleChange(&p, t, FieldOwner, retention))
		}
	}
	known := r.known(req.NamespacedName, p.UID)
	tier, err := r.recordAfter(ctx, tiers, known.tier)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("recording the tier decisions of partner %s: %w", req.NamespacedName, err)
	}
	life, err := r.recordAfter(ctx, lifecycle, known.lifecycle)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("recording the lifecycle transitions of partner %s: %w", req.NamespacedName, err)
	}
	r.remember(req.NamespacedName, recordedUpTo{uid: p.UID, tier: tier, lifecycle: life})
	return ctrl.Result{}, nil
}

// recordAfter creates the records of recs (oldest first) after the one named
// known, and returns the name of the newest record that now exists ("" when
// recs is empty). When known is not among recs (a partner not seen since the
// manager started, or whose known record left the trimmed history), the newest
// record that exists is read from the API server, newest first: when one
// exists, so do the older ones (they are created in order), and only the ones
// after it are created; a create refused as AlreadyExists is success.
func (r *TierRecorder) recordAfter(ctx context.Context, recs []*recordsv1alpha1.DecisionRecord, known string) (string, error) {
	if len(recs) == 0 {
		return known, nil
	}
	newest := recs[len(recs)-1].Name
	from := slices.IndexFunc(recs, func(rec *recordsv1alpha1.DecisionRecord) bool { return rec.Name == known }) + 1
	// Not known: the newest record that exists is found by reading back from
	// the newest (at most the history's length in reads, two in the common
	// case), so that a decision made after a restart creates its own record
	// only, not a refused create for every older one.
	for i := len(recs) - 1; from == 0 && i >= 0; i-- {
		existing := &metav1.PartialObjectMetadata{}
		existing.SetGroupVersionKind(recordsv1alpha1.GroupVersion.WithKind("DecisionRecord"))
		switch err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(recs[i]), existing); {
		case err == nil:
			from = i + 1
		case !apierrors.IsNotFound(err):
			return known, err
		}
	}
	for _, rec := range recs[from:] {
		if err := r.Chain.Record(ctx, rec); err != nil {
			return known, err
		}
	}
	return newest, nil
}

// tierRecordable tells whether the recorder records history[i], a stored tier
// decision of partner p: sealed, and not past the program's record retention.
func tierRecordable(seals *seal.Keys, p *v1alpha1.Partner, history []v1alpha1.TierDecision, i int, now time.Time, retention time.Duration) bool {
	return seals.TierSealed(string(p.UID), history, i) && now.Before(history[i].Time.Add(retention))
}

// recorded tells whether the recorder knows that the record named name, of
// partner p's newest recorded tier decision, exists.
func (r *TierRecorder) recorded(p *v1alpha1.Partner, name string) bool {
	return r != nil && r.known(client.ObjectKeyFromObject(p), p.UID).tier == name
}

func (r *TierRecorder) known(key types.NamespacedName, uid types.UID) recordedUpTo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.newest[key]; ok && k.uid == uid {
		return k
	}
	return recordedUpTo{}
}

func (r *TierRecorder) remember(key types.NamespacedName, k recordedUpTo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.newest == nil {
		r.newest = map[types.NamespacedName]recordedUpTo{}
	}
	r.newest[key] = k
}

func (r *TierRecorder) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.newest, key)
}

// SetupWithManager registers the recorder; it follows Partners whose history
// changed (and every partner once at start, and on each resync).
func (r *TierRecorder) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Partner{}, builder.WithPredicates(historyChanged)).
		WithOptions(opts.recorder()).
		Named("tierrecord").
		Complete(r)
}

// historyChanged passes creations, resyncs, deletions and updates whose tier
// history or lifecycle transitions changed.
var historyChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.Partner), e.ObjectNew.(*v1alpha1.Partner)
		return o.ResourceVersion == n.ResourceVersion || !equality.Semantic.DeepEqual(o.Status.History, n.Status.History) ||
			!equality.Semantic.DeepEqual(lifecycleTransitionsOf(o), lifecycleTransitionsOf(n))
	},
	// A deleted partner is forgotten: the recorder's memory follows the partners.
	DeleteFunc: func(event.DeleteEvent) bool { return true },
}

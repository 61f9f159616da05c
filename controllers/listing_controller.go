package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/listing"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// ListingReconciler publishes listings while their partner is entitled and shows
// only the claims that have evidence.
type ListingReconciler struct {
	client.Client
	Clock    clock.PassiveClock
	Recorder events.EventRecorder
	// Seals verify ListingException approvals (effects.Approved); nil when sealing is off.
	Seals *seal.Keys
	// Chain creates the records, each in its partner's chain.
	Chain *Chain
}

// +kubebuilder:rbac:groups=records.partnergov.io,resources=decisionrecords,verbs=get;list;create;delete
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=listings,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=listings/status,verbs=get;update;patch

// Reconcile evaluates one listing and writes its status when it changed.
func (r *ListingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var l v1alpha1.Listing
	if err := r.Get(ctx, req.NamespacedName, &l); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !l.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	in := listing.Input{Now: r.Clock.Now().Truncate(time.Second), Listing: &l}
	var partner v1alpha1.Partner
	switch err := r.Get(ctx, types.NamespacedName{Namespace: l.Namespace, Name: l.Spec.Partner}, &partner); {
	case err == nil:
		in.Partner = &partner
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	var requests v1alpha1.ExceptionRequestList
	if err := r.List(ctx, &requests, client.InNamespace(l.Namespace), client.MatchingFields{indexPartner: l.Spec.Partner}); err != nil {
		return ctrl.Result{}, err
	}
	mine := requests.Items
	if in.Partner != nil {
		mine = tier.RequestsOf(mine, in.Partner) // a new partner of an old name inherits no exception
	}
	in.Grants = listing.GrantsFor(mine, l.Name, r.Seals)

	res := listing.Evaluate(in)
	if err := r.recordPublication(ctx, &l, &res.Status, in.Partner); err != nil {
		return ctrl.Result{}, fmt.Errorf("recording the publication change: %w", err)
	}
	written, err := applyStatus(ctx, r.Client, &l, "Listing", &l.Status, &res.Status, "usage")
	if err != nil || !written {
		return retryStale(requeueAt(in.Now, res.NextDeadline), err)
	}
	for _, e := range res.Events {
		r.Recorder.Eventf(&l, nil, eventType(e.Warning), e.Reason, "Publish", "%s", e.Message)
		if e.OnPartner && in.Partner != nil {
			r.Recorder.Eventf(in.Partner, &l, eventType(e.Warning), e.Reason, "Publish", "listing %s: %s", l.Name, e.Message)
		}
	}
	return requeueAt(in.Now, res.NextDeadline), nil
}

// recordPublication records the stored Published condition's last change unless
// status.recordedPublication already names it; the marker goes into the status
// written next. A listing's first publication decision is recorded too.
func (r *ListingReconciler) recordPublication(ctx context.Context, l *v1alpha1.Listing, next *v1alpha1.ListingStatus, partner *v1alpha1.Partner) error {
	c := meta.FindStatusCondition(l.Status.Conditions, v1alpha1.ConditionPublished)
	if c == nil || (l.Status.RecordedPublication != nil && l.Status.RecordedPublication.Equal(&c.LastTransitionTime)) {
		return nil
	}
	var program *v1alpha1.PartnerProgram
	name := ""
	if partner != nil {
		var p v1alpha1.PartnerProgram
		if err := r.Get(ctx, types.NamespacedName{Name: partner.Spec.Program}, &p); err == nil {
			program, name = &p, p.Name
		} else if !apierrors.IsNotFound(err) {
			return err
		}
	}
	if err := r.Chain.Record(ctx, record.Publication(l, *c, l.Status.RecordedPublication == nil, name, FieldOwner, v1alpha1.RecordRetention(program))); err != nil {
		return err
	}
	next.RecordedPublication = c.LastTransitionTime.DeepCopy()
	return nil
}

// SetupWithManager registers the reconciler: listings follow their partner's
// entitlements and claims, and ListingException requests.
func (r *ListingReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Listing{}, indexPartner, func(o client.Object) []string {
		return []string{o.(*v1alpha1.Listing).Spec.Partner}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Listing{}).
		Watches(&v1alpha1.Partner{}, handler.EnqueueRequestsFromMapFunc(r.listingsOf)).
		Watches(&v1alpha1.ExceptionRequest{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			q := o.(*v1alpha1.ExceptionRequest)
			if q.Spec.Type != v1alpha1.RequestListingException || q.Spec.Grant == nil || q.Spec.Grant.Listing == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.Grant.Listing}}}
		})).
		WithOptions(opts.recorder()).
		Named("listing").
		Complete(r)
}

// listingsOf maps a partner to its listings.
func (r *ListingReconciler) listingsOf(ctx context.Context, o client.Object) []reconcile.Request {
	var listings v1alpha1.ListingList
	if err := r.List(ctx, &listings, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexPartner: o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(listings.Items))
	for _, l := range listings.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l)})
	}
	return out
}

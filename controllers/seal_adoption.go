package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/seal"
)

// SealAdopter seals, once, the state stored before sealing was turned on: the
// evidence, tier decisions, review decisions, deal outcomes, influence
// confirmations and standings, and the DealLocks their holders confirm, that
// have no seal, and the outcomes of settled requests (an approval only when
// its records confirm it: review.AdoptOutcome). Until it is
// done the manager's Seals accept what has no seal (seal.Keys.SetAdopting), so
// turning sealing on demotes nobody; a seal that is present must verify
// throughout. When every stored object is sealed it removes the seal Secret's
// adoption annotation and ends adoption. It runs on the leader; SealAdoptionWatch
// ends adoption on the other replicas.
type SealAdopter struct {
	Client    client.Client
	APIReader client.Reader
	Seals     *seal.Keys
	// Secret is the seal key Secret that carries the adoption annotation.
	Secret types.NamespacedName
	// Interval is how long a failed attempt waits before the next.
	Interval time.Duration
}

// adoptionPasses bounds the passes over stored objects: a pass that seals
// something (or loses a race with another write) is followed by another, until
// one finds nothing left to seal.
const adoptionPasses = 10

// adoptionBatch is the page size of an adoption pass.
const adoptionBatch = 500

// NeedLeaderElection makes the adopter run on the leader only.
func (a *SealAdopter) NeedLeaderElection() bool { return true }

// Start adopts until it has succeeded once, or ctx ends.
func (a *SealAdopter) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("seal-adoption")
	for a.Seals.Adopting() {
		sealed, err := a.Adopt(ctx)
		if err == nil {
			log.Info("sealed the state stored before sealing was turned on", "objects", sealed)
			return nil
		}
		log.Error(err, "sealing the state stored before sealing was turned on; retrying", "objects", sealed)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.Interval):
		}
	}
	return nil
}

// Adopt seals every stored object that has unsealed entries, pass after pass
// until a pass finds none, then ends adoption; it returns how many objects it
// sealed. If another leader already ended adoption it only ends it here.
func (a *SealAdopter) Adopt(ctx context.Context) (int, error) {
	pending, err := adoptionPending(ctx, a.APIReader, a.Secret)
	if err != nil {
		return 0, err
	}
	total := 0
	for pass := 0; pending; pass++ {
		if pass == adoptionPasses {
			return total, fmt.Errorf("objects without seals still appear after %d passes", adoptionPasses)
		}
		n, err := a.pass(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	if pending {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var s corev1.Secret
			if err := a.APIReader.Get(ctx, a.Secret, &s); err != nil {
				return err
			}
			delete(s.Annotations, seal.AnnotationAdoption)
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[seal.AnnotationFormat] = seal.Format
			return a.Client.Update(ctx, &s)
		})
		if err != nil {
			return total, fmt.Errorf("ending adoption on Secret %s: %w", a.Secret, err)
		}
	}
	a.Seals.SetAdopting(false)
	return total, nil
}

// pass seals what has no seal in every Partner, ExceptionRequest and
// DealRegistration (the CRM's outcome and influence confirmations); it counts
// the objects it wrote and those that changed under it (the next pass sees them
// again).
func (a *SealAdopter) pass(ctx context.Context) (int, error) {
	n := 0
	for cont := ""; ; {
		var list v1alpha1.PartnerList
		if err := a.APIReader.List(ctx, &list, client.Limit(adoptionBatch), client.Continue(cont)); err != nil {
			return n, err
		}
		for i := range list.Items {
			p := list.Items[i].DeepCopy()
			if a.Seals.AdoptPartner(p) {
				n++
				if err := a.write(ctx, p, &list.Items[i]); err != nil {
					return n, err
				}
			}
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	for cont := ""; ; {
		var list v1alpha1.ExceptionRequestList
		if err := a.APIReader.List(ctx, &list, client.Limit(adoptionBatch), client.Continue(cont)); err != nil {
			return n, err
		}
		for i := range list.Items {
			q := list.Items[i].DeepCopy()
			adopted := a.Seals.AdoptRequest(q)
			if review.OutcomeToAdopt(q) {
				var recorded []review.RecordedOutcome
				if q.Status.Phase == v1alpha1.PhaseApproved {
					var err error
					if recorded, err = outcomeRecords(ctx, a.APIReader, q); err != nil {
						return n, err
					}
				}
				adopted = review.AdoptOutcome(q, recorded, a.Seals) || adopted
			}
			if adopted {
				n++
				if err := a.write(ctx, q, &list.Items[i]); err != nil {
					return n, err
				}
			}
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	for cont := ""; ; {
		var list v1alpha1.DealRegistrationList
		if err := a.APIReader.List(ctx, &list, client.Limit(adoptionBatch), client.Continue(cont)); err != nil {
			return n, err
		}
		for i := range list.Items {
			d := list.Items[i].DeepCopy()
			if a.Seals.AdoptDeal(d) {
				n++
				if err := a.write(ctx, d, &list.Items[i]); err != nil {
					return n, err
				}
			}
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	// Locks last, after the registrations whose standing confirms them.
	for cont := ""; ; {
		var list v1alpha1.DealLockList
		if err := a.APIReader.List(ctx, &list, client.Limit(adoptionBatch), client.Continue(cont)); err != nil {
			return n, err
		}
		for i := range list.Items {
			sealed, err := a.adoptLock(ctx, &list.Items[i])
			if sealed {
				n++
			}
			if err != nil {
				return n, err
			}
		}
		if cont = list.Continue; cont == "" {
			return n, nil
		}
	}
}

// adoptLock seals l when it has no seal and deal.LockConfirmed confirms it
// (the direct team's claim, or a lock its holder's sealed standing names),
// with an update carrying the resourceVersion read. It reports whether it
// wrote (or lost a race: the next pass reads it again). A lock it does not
// confirm stays unsealed and holds nothing once adoption ends.
func (a *SealAdopter) adoptLock(ctx context.Context, l *v1alpha1.DealLock) (bool, error) {
	if l.Spec.Seal != "" {
		return false, nil
	}
	var holder *v1alpha1.DealRegistration
	if h := l.Spec.Holder; h.Kind == deal.HolderPartner && h.Name != "" {
		var d v1alpha1.DealRegistration
		switch err := a.APIReader.Get(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, &d); {
		case err == nil:
			holder = &d
		case !apierrors.IsNotFound(err):
			return false, err
		}
	}
	if !deal.LockConfirmed(l, holder, a.Seals) {
		return false, nil
	}
	sealed := l.DeepCopy()
	a.Seals.SealLock(&sealed.Spec)
	err := a.Client.Update(ctx, sealed)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return true, nil // changed or gone: the next pass reads it again
	}
	return err == nil, err
}

// outcomeRecords reads the outcome records of request q, one per final phase
// (record.OutcomeName), for review.AdoptOutcome: an approval settled before
// outcomes were sealed is sealed only when they confirm it. A record counts
// for q only when it names q (its name, UID and phase); records are created
// by the controller alone and never change (the DecisionRecord webhook, or
// the records server). While the records store cannot be read adoption
// waits (the error): an approval is sealed late, never on a guess.
func outcomeRecords(ctx context.Context, r client.Reader, q *v1alpha1.ExceptionRequest) ([]review.RecordedOutcome, error) {
	var out []review.RecordedOutcome
	for _, phase := range []v1alpha1.RequestPhase{v1alpha1.PhaseApproved, v1alpha1.PhaseDenied, v1alpha1.PhaseExpired, v1alpha1.PhaseWithdrawn} {
		var rec recordsv1alpha1.DecisionRecord
		switch err := r.Get(ctx, types.NamespacedName{Namespace: q.Namespace, Name: record.OutcomeName(q, phase)}, &rec); {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("reading the %s record of request %s/%s to seal its outcome: %w", phase, q.Namespace, q.Name, err)
		}
		if rec.Spec.Request != q.Name || rec.Spec.Subject.UID != string(q.UID) || rec.Spec.To != string(phase) {
			continue
		}
		out = append(out, review.RecordedOutcome{Phase: phase, Time: rec.Spec.Time.Time, Reason: rec.Spec.Reason})
	}
	return out, nil
}

// write stores obj's sealed status over stored, only if stored is still current.
func (a *SealAdopter) write(ctx context.Context, obj, stored client.Object) error {
	err := a.Client.Status().Patch(ctx, obj, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner))
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // changed or gone: the next pass reads it again
	}
	return err
}

// SealAdoptionWatch ends adoption on a replica once the seal Secret says it is
// over (the leader's SealAdopter removed the annotation), polling every Interval
// while adoption is on. It runs on every replica, so a replica that becomes
// leader later does not keep accepting what has no seal.
type SealAdoptionWatch struct {
	APIReader client.Reader
	Seals     *seal.Keys
	Secret    types.NamespacedName
	Interval  time.Duration
}

// NeedLeaderElection makes the watch run on every replica.
func (w *SealAdoptionWatch) NeedLeaderElection() bool { return false }

// Start polls until adoption is over or ctx ends.
func (w *SealAdoptionWatch) Start(ctx context.Context) error {
	for w.Seals.Adopting() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.Interval):
		}
		if pending, err := adoptionPending(ctx, w.APIReader, w.Secret); err == nil && !pending {
			w.Seals.SetAdopting(false)
		}
	}
	return nil
}

// adoptionPending reads the seal Secret's adoption annotation.
func adoptionPending(ctx context.Context, r client.Reader, key types.NamespacedName) (bool, error) {
	var s corev1.Secret
	if err := r.Get(ctx, key, &s); err != nil {
		return false, err
	}
	return s.Annotations[seal.AnnotationAdoption] == seal.AdoptionPending, nil
}

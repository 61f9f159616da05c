package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/tier"
)

// tierHoldRetry is how often a held tier decision looks again for the record it waits for.
const tierHoldRetry = 10 * time.Second

// holdTierDecision applies tier.TrimWaitsFor before next, partner p's new
// status, is written. When next would trim out of p's stored history a
// decision still to be recorded while the newest stored decision has no record
// (the records store down long enough for the history's 20 decisions to turn
// over), next is not written: that stored decision would be lost with its
// record. The stored status gets condition TierDecisionHeld instead, and
// held is true: the partner is evaluated again after tierHoldRetry, and the
// decision (decided afresh from the evidence then) is written once the
// TierRecorder has made the records. Otherwise a TierDecisionHeld left from an
// earlier hold is removed from next.
//
// The decisions before newestRecorded (the newest recorded tier decision the
// partner's RecordChain head names, nil when unknown), which status.history
// drops (tier.Present), are recorded: dropping them waits for nothing
// (tier.NotYetRecorded).
func (r *PartnerReconciler) holdTierDecision(ctx context.Context, p *v1alpha1.Partner, next *v1alpha1.PartnerStatus, decision *v1alpha1.TierDecision, program *v1alpha1.PartnerProgram, newestRecorded *v1alpha1.RecordedDecision, now time.Time) (held bool, err error) {
	meta.RemoveStatusCondition(&next.Conditions, v1alpha1.ConditionTierDecisionHeld)
	stored, retention := p.Status.History, v1alpha1.RecordRetention(program)
	i := tier.TrimWaitsFor(stored, next.History, tier.NotYetRecorded(r.Seals, p, stored, newestRecorded,
		func(i int) bool { return tierRecordable(r.Seals, p, stored, i, now, retention) }))
	if i < 0 {
		return false, nil
	}
	name := record.TierChangeName(p, stored[i])
	if r.TierRecords.recorded(p, name) {
		return false, nil
	}
	existing := &metav1.PartialObjectMetadata{}
	existing.SetGroupVersionKind(recordsv1alpha1.GroupVersion.WithKind("DecisionRecord"))
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: name}, existing)
	if err == nil {
		return false, nil
	}
	why := "does not exist yet"
	if !apierrors.IsNotFound(err) {
		why = "cannot be read (the records store does not answer)"
	}
	what := "the next tier decision"
	if decision != nil {
		what = fmt.Sprintf("the tier decision %s -> %s (%s)", orNoTier(decision.From), orNoTier(decision.To), decision.Reason)
	}
	msg := fmt.Sprintf("%s waits: writing it would trim out of status.history, which keeps %d, decisions whose DecisionRecords are not made yet, and record %s of the newest stored decision %s; it is written once the records are made",
		what, v1alpha1.MaxHistory, name, why)
	status := p.Status.DeepCopy()
	conditions.Set(&status.Conditions, p.Generation, metav1.NewTime(now), v1alpha1.ConditionTierDecisionHeld, metav1.ConditionTrue, v1alpha1.ReasonRecordsPending, msg)
	written, err := applyStatus(ctx, r.Client, p, "Partner", &p.Status, status, "evidence")
	if err != nil {
		return true, err
	}
	if written {
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, v1alpha1.ReasonRecordsPending, "TierChange", "%s", msg)
	}
	return true, nil
}

func orNoTier(t string) string {
	if t == "" {
		return "(none)"
	}
	return t
}

package guard

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/seal"
)

// RequestStatus checks a write to exceptionrequests/status; only the status of
// updated is read, the rest comes from old, the stored object. Reviewers may only
// append decisions (the rules of review.ValidateDecisions); the controller may
// only change the fields it computes. Appended decisions are stamped with the
// reviewer, the time and the request's generation. partnerOwner is the partner's
// relationship owner, who may not decide. It returns the status to
// store and the decisions added, for the caller's permission check.
func RequestStatus(old, updated *v1alpha1.ExceptionRequest, w Writer, partnerOwner string, now time.Time) (*v1alpha1.ExceptionRequestStatus, []v1alpha1.ReviewDecision, *Refusal) {
	if w.Controller {
		if !onlyAdopted(old, updated.Status.Decisions, w.Seals) {
			return nil, nil, refuse("the controller does not write review decisions; it only seals, once, those stored before sealing was on")
		}
		return updated.Status.DeepCopy(), nil, nil
	}
	if fields := changedFields(old.Status, updated.Status, "decisions"); len(fields) > 0 {
		return nil, nil, refuse("%s may not change %s of ExceptionRequest %s/%s: reviewers only append to status.decisions; the controller computes the rest",
			w.Username, strings.Join(fields, ", "), old.Namespace, old.Name)
	}
	if errs := review.ValidateDecisions(old, updated, w.Username, partnerOwner); len(errs) > 0 {
		return nil, nil, refuse("%s", errs.ToAggregate().Error())
	}
	if why := unsealedPath(old, w.Seals); why != "" && len(updated.Status.Decisions) > len(old.Status.Decisions) {
		return nil, nil, refuse("%s may not decide ExceptionRequest %s/%s: %s", w.Username, old.Namespace, old.Name, why)
	}
	out := updated.Status.DeepCopy()
	stamp := metav1.NewTime(now.Truncate(time.Second))
	for i := len(old.Status.Decisions); i < len(out.Decisions); i++ {
		d := &out.Decisions[i]
		d.Reviewer, d.Time, d.Generation = w.Username, stamp.DeepCopy(), old.Generation // a status write cannot change the spec
		d.Seal = ""
		d.Seal = w.Seals.Sign(seal.Decision(string(old.UID), i, *d)...)
	}
	return out, out.Decisions[len(old.Status.Decisions):], nil
}

// unsealedPath says why, with sealing on, old's copy of its review path may
// authorize no decision ("" when it may): the guard authorizes a reviewer by
// that copy (its name for RBAC, its escalation owner, its same-reviewer rule),
// so one rewritten past the webhooks, sealed for another request, or missing
// would have a decision sealed that no reviewer of the request's path gave, and
// that then counts under the sealed copy put back (review.Outcome). A copy
// stored before sealing was on is unsealed until adoption seals it.
func unsealedPath(old *v1alpha1.ExceptionRequest, seals *seal.Keys) string {
	if !seals.On() {
		return ""
	}
	p := old.Status.ReviewPath
	switch {
	case p == nil:
		return "status.reviewPath is not set: the request has no review path yet, so no stage can be decided"
	case p.Seal == "" && seals.Adopting():
		return ""
	case !seals.Verify(p.Seal, seal.Path(string(old.UID), *p)...):
		return fmt.Sprintf("status.reviewPath (path %q) is not the controller's sealed copy of this request's review path (it was written past the webhooks), so it authorizes no reviewer: file a new request", p.Name)
	}
	return ""
}

// onlyAdopted reports whether decisions are old's decisions, except that some
// stored with no seal (before sealing was on) now carry one that verifies.
func onlyAdopted(old *v1alpha1.ExceptionRequest, decisions []v1alpha1.ReviewDecision, seals *seal.Keys) bool {
	if len(decisions) != len(old.Status.Decisions) {
		return false
	}
	for i, d := range decisions {
		prev := old.Status.Decisions[i]
		if equality.Semantic.DeepEqual(prev, d) {
			continue
		}
		bare := d
		bare.Seal = ""
		if !seals.On() || prev.Seal != "" || d.Seal == "" || !equality.Semantic.DeepEqual(prev, bare) || !seals.Verify(d.Seal, seal.Decision(string(old.UID), i, d)...) {
			return false
		}
	}
	return true
}

// ApproverResource is the RBAC resourceName whose verb "approve" on resource
// "reviewpaths" lets a reviewer decide a stage: "<path>.<stage>", or
// "escalation" for requests that no path governs.
func ApproverResource(path, stage string) string {
	if path == "" {
		return review.EscalationStage
	}
	return path + "." + stage
}

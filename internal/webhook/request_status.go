package webhook

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/guard"
	"github.com/partnergov/partnergov/internal/plan"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/seal"
)

// RequestStatusPath serves the exceptionrequests/status guard.
const RequestStatusPath = "/mutate-governance-partnergov-io-v1alpha1-exceptionrequest-status"

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-exceptionrequest-status,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=exceptionrequests/status,verbs=update,versions=v1alpha1,name=mexceptionrequeststatus.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// RequestStatusGuard admits review decisions: each must come from a reviewer the
// API server authenticated and RBAC allows to approve the stage, appended to
// the decisions without touching earlier ones. The reviewer's identity, the time
// and the request's generation are stamped by the server.
type RequestStatusGuard struct {
	// Seals seal what the guard stamps; nil when sealing is off.
	Seals *seal.Keys
	// Client creates SubjectAccessReviews.
	Client             client.Client
	Decoder            admission.Decoder
	ControllerUsername string
	Clock              clock.PassiveClock
}

// Handle implements admission.Handler.
func (h *RequestStatusGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	var old, updated v1alpha1.ExceptionRequest
	if resp := decodeStatusWrite(h.Decoder, req, &old, &updated); resp != nil {
		return *resp
	}
	// The partner's relationship owner may not decide: read it from the cache (a
	// partner deleted meanwhile has no owner to exclude).
	var partner v1alpha1.Partner
	if _, err := getOptional(ctx, h.Client, types.NamespacedName{Namespace: old.Namespace, Name: old.Spec.Partner}, &partner); err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	// The parties read now, as well as those spec.parties recorded at the
	// opening: a deal conflict holder's relationship owner, a plan's author and
	// owners (a request opened before spec.parties existed lists none).
	live, err := liveParties(ctx, h.Client, &old)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	status, added, refusal := guard.RequestStatus(review.WithParties(&old, live...), &updated, writerOf(req, h.ControllerUsername, h.Seals), partner.Spec.Owner, h.Clock.Now())
	if refusal != nil {
		return admission.Denied(refusal.Message)
	}
	for _, d := range added {
		if msg, err := h.authorize(ctx, req.UserInfo, &old, d.Stage); err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		} else if msg != "" {
			return admission.Denied(msg)
		}
	}
	updated.Status = *status
	return patched(req, &updated)
}

// authorize checks, as Kubernetes does for CSR signers, that the reviewer has RBAC
// verb "approve" on reviewpaths/<path>.<stage>; a stage's escalation owner may
// also decide the "escalation" stage. It returns a refusal message, or "".
func (h *RequestStatusGuard) authorize(ctx context.Context, u authnv1.UserInfo, r *v1alpha1.ExceptionRequest, stage string) (string, error) {
	path, owner := "", ""
	if rp := r.Status.ReviewPath; rp != nil {
		path, owner = rp.Name, rp.EscalationOwner
	}
	if stage == review.EscalationStage && owner != "" && (u.Username == owner || slices.Contains(u.Groups, owner)) {
		return "", nil
	}
	resource := guard.ApproverResource(path, stage)
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range u.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Group: v1alpha1.GroupVersion.Group, Resource: "reviewpaths", Name: resource, Verb: "approve",
		},
	}}
	if err := h.Client.Create(ctx, sar); err != nil {
		return "", fmt.Errorf("checking the reviewer's permission: %w", err)
	}
	if sar.Status.Allowed {
		return "", nil
	}
	return fmt.Sprintf("%s may not decide stage %q of ExceptionRequest %s/%s: it needs RBAC verb \"approve\" on resource \"reviewpaths\" (group %s) with resourceName %q",
		u.Username, stage, r.Namespace, r.Name, v1alpha1.GroupVersion.Group, resource), nil
}

// liveParties are the parties of q read now: for a DealConflict, the holder's
// relationship owner (conflictHolderOwner); for a BusinessPlan request, the
// author and owners of the plan whose current content it reviews
// (plan.Parties), so that nobody approves their own plan through a request
// opened before spec.parties existed.
func liveParties(ctx context.Context, reader client.Reader, q *v1alpha1.ExceptionRequest) ([]string, error) {
	switch {
	case q.Spec.Type == v1alpha1.RequestDealConflict:
		owner, err := conflictHolderOwner(ctx, reader, q)
		return []string{owner}, err
	case q.Spec.Type == v1alpha1.RequestBusinessPlan && q.Spec.Grant != nil && q.Spec.Grant.BusinessPlan != "":
		var jbp v1alpha1.JointBusinessPlan
		if found, err := getOptional(ctx, reader, types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.Grant.BusinessPlan}, &jbp); err != nil || !found {
			return nil, err
		}
		if plan.RequestName(&jbp) != q.Name {
			return nil, nil
		}
		return plan.Parties(&jbp), nil
	}
	return nil, nil
}

// conflictHolderOwner is, for a DealConflict request, the relationship owner of
// the partner that holds the customer now (deal.ConflictHolderPartner of the
// challenging registration), "" for any other request or when it is unknown.
func conflictHolderOwner(ctx context.Context, reader client.Reader, q *v1alpha1.ExceptionRequest) (string, error) {
	if q.Spec.Type != v1alpha1.RequestDealConflict || q.Spec.Grant == nil || q.Spec.Grant.Deal == "" {
		return "", nil
	}
	var d v1alpha1.DealRegistration
	if found, err := getOptional(ctx, reader, types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.Grant.Deal}, &d); err != nil || !found {
		return "", err
	}
	key, ok := deal.ConflictHolderPartner(&d)
	if !ok || deal.ConflictName(&d) != q.Name {
		return "", nil
	}
	var holder v1alpha1.Partner
	if found, err := getOptional(ctx, reader, key, &holder); err != nil || !found {
		return "", err
	}
	return holder.Spec.Owner, nil
}

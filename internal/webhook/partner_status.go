package webhook

import (
	"context"
	"net/http"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/guard"
	"github.com/partnergov/partnergov/internal/seal"
)

// PartnerStatusPath serves the partners/status guard.
const PartnerStatusPath = "/mutate-governance-partnergov-io-v1alpha1-partner-status"

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-partner-status,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partners/status,verbs=update,versions=v1alpha1,name=mpartnerstatus.governance.partnergov.io,admissionReviewVersions=v1

// PartnerStatusGuard admits writes to partners/status: it stamps each reported
// evidence entry with the authenticated reporter, refuses reporters the catalog does
// not trust, and refuses anyone but the controller who changes the computed fields.
type PartnerStatusGuard struct {
	// Seals seal what the guard stamps; nil when sealing is off.
	Seals *seal.Keys
	// Reader reads the partner's program, from the cache.
	Reader  client.Reader
	Decoder admission.Decoder
	// ControllerUsername is the identity the controller writes status with.
	ControllerUsername string
	Clock              clock.PassiveClock
}

// Handle implements admission.Handler.
func (h *PartnerStatusGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	var old, updated v1alpha1.Partner
	if resp := decodeStatusWrite(h.Decoder, req, &old, &updated); resp != nil {
		return *resp
	}
	var program *v1alpha1.PartnerProgram
	var p v1alpha1.PartnerProgram
	found, err := getOptional(ctx, h.Reader, types.NamespacedName{Name: old.Spec.Program}, &p) // a status write cannot change the spec
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if found {
		program = &p
	}
	status, refusal := guard.PartnerStatus(&old, &updated, program, writerOf(req, h.ControllerUsername, h.Seals), h.Clock.Now())
	if refusal != nil {
		return admission.Denied(refusal.Message)
	}
	updated.Status = *status
	return patched(req, &updated)
}

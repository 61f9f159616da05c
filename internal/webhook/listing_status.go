package webhook

import (
	"context"
	"net/http"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/guard"
	"github.com/partnergov/partnergov/internal/seal"
)

// ListingStatusPath serves the listings/status guard.
const ListingStatusPath = "/mutate-governance-partnergov-io-v1alpha1-listing-status"

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-listing-status,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=listings/status,verbs=update,versions=v1alpha1,name=mlistingstatus.governance.partnergov.io,admissionReviewVersions=v1

// ListingStatusGuard admits adoption reports into listings/status from the
// partner's own integration or the program's marketplace reporters only, and
// changes of everything else from the controller only.
type ListingStatusGuard struct {
	// Seals seal what the guard stamps; nil when sealing is off.
	Seals *seal.Keys
	// Reader reads the partner and its program, from the cache.
	Reader             client.Reader
	Decoder            admission.Decoder
	ControllerUsername string
}

// Handle implements admission.Handler.
func (h *ListingStatusGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	var old, updated v1alpha1.Listing
	if resp := decodeStatusWrite(h.Decoder, req, &old, &updated); resp != nil {
		return *resp
	}
	program, err := h.programOf(ctx, &old) // a status write cannot change the spec
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	status, refusal := guard.ListingStatus(&old, &updated, program, writerOf(req, h.ControllerUsername, h.Seals))
	if refusal != nil {
		return admission.Denied(refusal.Message)
	}
	updated.Status = *status
	return patched(req, &updated)
}

// programOf reads the listing's partner's program; nil when either is missing.
func (h *ListingStatusGuard) programOf(ctx context.Context, l *v1alpha1.Listing) (*v1alpha1.PartnerProgram, error) {
	var partner v1alpha1.Partner
	if found, err := getOptional(ctx, h.Reader, types.NamespacedName{Namespace: l.Namespace, Name: l.Spec.Partner}, &partner); err != nil || !found {
		return nil, err
	}
	var program v1alpha1.PartnerProgram
	if found, err := getOptional(ctx, h.Reader, types.NamespacedName{Name: partner.Spec.Program}, &program); err != nil || !found {
		return nil, err
	}
	return &program, nil
}

// Package offboarding holds the rules of a partner's offboarding that are not its
// lifecycle phase: the instant the controllers wake up to carry it out, what an
// effective offboarding refuses at admission (new requests, registrations and
// listings; evidence from the revoked integration identity), that it cannot be
// undone once effective, and when the Partner may be deleted. Every rule reads
// spec.offboarding and the clock (v1alpha1.Partner.OffboardingEffective). It is
// pure: no cluster access.
package offboarding

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Deadline is the partner's offboarding effective time while it lies after now:
// the instant a controller requeues at to carry the offboarding out. Nil when
// there is no offboarding or it is already effective.
func Deadline(p *v1alpha1.Partner, now time.Time) *time.Time {
	if p == nil || p.Spec.Offboarding == nil || p.OffboardingEffective(now) {
		return nil
	}
	t := p.Spec.Offboarding.Effective.Time
	return &t
}

// Describe says, for messages, that and when partner p was offboarded, and why.
func Describe(p *v1alpha1.Partner) string {
	o := p.Spec.Offboarding
	if o == nil {
		return fmt.Sprintf("partner %s is not offboarded", p.Name)
	}
	return fmt.Sprintf("partner %s was offboarded at %s (%s)", p.Name, o.Effective.UTC().Format(time.RFC3339), o.Reason)
}

// RefuseNew refuses a new object of kind (ExceptionRequest, DealRegistration,
// Listing) for partner p once p's offboarding is effective, on its spec.partner.
// Nil when p may have it.
func RefuseNew(p *v1alpha1.Partner, kind string, now time.Time) *field.Error {
	if !p.OffboardingEffective(now) {
		return nil
	}
	return field.Forbidden(field.NewPath("spec", "partner"), fmt.Sprintf(
		"%s (its spec.offboarding): an offboarded partner gets no new %s", Describe(p), kind))
}

// Change refuses removing or changing spec.offboarding once it is effective: its
// consequences (withdrawn entitlements, requests and registrations, unpublished
// listings, the revoked integration identity) stand. A partner that comes back
// is admitted as a new Partner. Nil when the change is allowed.
func Change(old, updated *v1alpha1.Partner, now time.Time) *field.Error {
	if !old.OffboardingEffective(now) {
		return nil
	}
	o, n := old.Spec.Offboarding, updated.Spec.Offboarding
	if n != nil && n.Reason == o.Reason && n.Effective.Equal(&o.Effective) {
		return nil
	}
	return field.Forbidden(field.NewPath("spec", "offboarding"), fmt.Sprintf(
		"%s: an offboarding that took effect cannot be removed or changed; to bring the partner back, create a new Partner", Describe(old)))
}

// Deletion says why partner p may not be deleted at now, "" when it may: only
// once it is offboarded, that is once its spec.offboarding took effect (or the
// controller already shows it Offboarded). Its decision records are not owned by
// it and remain.
func Deletion(p *v1alpha1.Partner, now time.Time) string {
	if p.OffboardingEffective(now) || (p.Status.Lifecycle != nil && p.Status.Lifecycle.Phase == v1alpha1.LifecycleOffboarded) {
		return ""
	}
	if o := p.Spec.Offboarding; o != nil {
		return fmt.Sprintf("Partner %s/%s is offboarded at %s (spec.offboarding.effective), not before: it may be deleted from then on",
			p.Namespace, p.Name, o.Effective.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("Partner %s/%s can be deleted only once it is offboarded: set spec.offboarding (reason and effective) first; "+
		"at its effective time its entitlements and integration identity are withdrawn, its listings unpublished, its deal protection released "+
		"and its open requests withdrawn, and from then on it may be deleted (its decision records remain)", p.Namespace, p.Name)
}

// IntegrationUsername is the username the API server authenticates partner p's
// integration ServiceAccount as.
func IntegrationUsername(p *v1alpha1.Partner) string {
	return "system:serviceaccount:" + p.Namespace + ":" + v1alpha1.IntegrationName(p.Name)
}

// EvidenceRefusal says why username may not write partner p's status at now: it
// is p's own integration identity and p's offboarding took effect, which revoked
// it. "" when the write is not refused for this reason.
func EvidenceRefusal(p *v1alpha1.Partner, username string, now time.Time) string {
	if !p.OffboardingEffective(now) || username != IntegrationUsername(p) {
		return ""
	}
	return fmt.Sprintf("%s is the integration identity of Partner %s/%s, revoked when its offboarding took effect: %s",
		username, p.Namespace, p.Name, Describe(p))
}

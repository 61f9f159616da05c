package v1alpha1

import "time"

// ReasonPartnerOffboarded is the reason of what a partner's offboarding ends: an
// unpublished listing, a withdrawn deal registration or request, refused evidence.
const ReasonPartnerOffboarded = "PartnerOffboarded"

// OffboardingEffective reports whether the partner's offboarding has taken
// effect at now: spec.offboarding is set and its effective time has come. It is
// read from the spec and the clock, never from the lifecycle phase in status, so
// every consequence of an offboarding holds from its effective time on, whoever
// computed the phase and when.
func (p *Partner) OffboardingEffective(now time.Time) bool {
	return p != nil && p.Spec.Offboarding != nil && !now.Before(p.Spec.Offboarding.Effective.Time)
}

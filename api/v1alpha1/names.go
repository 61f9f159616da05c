package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// IntegrationName is the name of the ServiceAccount, Role and RoleBinding the
// controller provisions for a partner's own integration, in the partner's
// namespace: "<partner>-integration".
func IntegrationName(partner string) string { return shortName(partner + "-integration") }

// PromotionRequestName is the name of the TierPromotion request the controller
// opens when a partner qualifies for a tier that needs review.
func PromotionRequestName(partner, tier string) string {
	return shortName(partner + "-promote-" + tier)
}

// shortName keeps a generated name within 63 characters, replacing the tail of a
// longer one with a hash so that names stay unique.
func shortName(name string) string {
	const limit = 63
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:limit-11] + "-" + hex.EncodeToString(sum[:])[:10]
}

// AnnotationQualifyingEvidence on a TierPromotion request holds a digest of the
// evidence the partner qualified on when the controller opened it. After a denial,
// a change of that evidence opens a new request before promotionRetryAfter.
const AnnotationQualifyingEvidence = "governance.partnergov.io/qualifying-evidence"

// DefaultMaxExceptionDuration is PartnerProgramSpec.MaxExceptionDuration's default.
const DefaultMaxExceptionDuration = 365 * 24 * time.Hour

// MaxExceptionDuration is the longest a grant of program p may last.
func MaxExceptionDuration(p *PartnerProgram) time.Duration {
	if p == nil || p.Spec.MaxExceptionDuration == nil || p.Spec.MaxExceptionDuration.Duration <= 0 {
		return DefaultMaxExceptionDuration
	}
	return p.Spec.MaxExceptionDuration.Duration
}

// DefaultRecordRetention is PartnerProgramSpec.RecordRetention's default: 7 years.
const DefaultRecordRetention = 7 * 365 * 24 * time.Hour

// MinRecordRetention is the least recordRetention a program may set unless the
// manager is started with another --min-record-retention: one year.
const MinRecordRetention = 365 * 24 * time.Hour

// RecordRetention is how long decision records of program p are kept.
func RecordRetention(p *PartnerProgram) time.Duration {
	if p == nil || p.Spec.RecordRetention == nil || p.Spec.RecordRetention.Duration <= 0 {
		return DefaultRecordRetention
	}
	return p.Spec.RecordRetention.Duration
}

// DefaultDealProtection is DealRegistrationRules.Protection's default: 90 days.
const DefaultDealProtection = 90 * 24 * time.Hour

// DealProtection is how long an approved registration of program p is protected.
func DealProtection(p *PartnerProgram) time.Duration {
	if p == nil || p.Spec.DealRegistration == nil || p.Spec.DealRegistration.Protection == nil || p.Spec.DealRegistration.Protection.Duration <= 0 {
		return DefaultDealProtection
	}
	return p.Spec.DealRegistration.Protection.Duration
}

// DefaultInfluenceLookback is DealRegistrationRules.InfluenceLookback's default: 180 days.
const DefaultInfluenceLookback = 180 * 24 * time.Hour

// InfluenceLookback is how long before a win influence earns credit in program p.
func InfluenceLookback(p *PartnerProgram) time.Duration {
	if p == nil || p.Spec.DealRegistration == nil || p.Spec.DealRegistration.InfluenceLookback == nil || p.Spec.DealRegistration.InfluenceLookback.Duration <= 0 {
		return DefaultInfluenceLookback
	}
	return p.Spec.DealRegistration.InfluenceLookback.Duration
}

// DefaultDealExtension is DealRegistrationRules.Extension's default: 30 days.
const DefaultDealExtension = 30 * 24 * time.Hour

// DealExtensionOf is how much protection an approved extension adds in program p.
func DealExtensionOf(p *PartnerProgram) time.Duration {
	if p == nil || p.Spec.DealRegistration == nil || p.Spec.DealRegistration.Extension == nil || p.Spec.DealRegistration.Extension.Duration <= 0 {
		return DefaultDealExtension
	}
	return p.Spec.DealRegistration.Extension.Duration
}

package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
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

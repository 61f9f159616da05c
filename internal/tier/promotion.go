package tier

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// defaultPromotionRetry applies when a tier sets no promotionRetryAfter (the API default).
const defaultPromotionRetry = 720 * time.Hour

// Promotion is a TierPromotion request the controller opened for the partner, in
// whatever phase it is; the controller builds these with PromotionsFrom.
type Promotion struct {
	// Request is the ExceptionRequest's name.
	Request string
	// Tier is the tier it asks to promote to.
	Tier string
	// Phase is the request's phase ("" before the request controller first saw it).
	Phase v1alpha1.RequestPhase
	// DeniedAt is when it was denied, for a Denied request.
	DeniedAt *time.Time
	// Evidence is the digest of the qualifying evidence it was opened on
	// (EvidenceDigest), from the request's annotation.
	Evidence string
}

// PromotionToOpen is the TierPromotion request the controller should create.
type PromotionToOpen struct {
	// Tier is the tier the partner qualifies for and that needs review.
	Tier string
	// Name is the request's name: PromotionRequestName for the first request of a
	// partner and tier, then with "-2", "-3", ... so it never collides with an old one.
	Name string
	// Evidence is EvidenceDigest of the qualifying evidence, to keep on the request.
	Evidence string
}

// PromotionsFrom turns a partner's TierPromotion requests into the engine's view.
func PromotionsFrom(requests []v1alpha1.ExceptionRequest) []Promotion {
	var out []Promotion
	for i := range requests {
		r := &requests[i]
		if r.Spec.Type != v1alpha1.RequestTierPromotion || r.Spec.Grant == nil {
			continue
		}
		p := Promotion{Request: r.Name, Tier: r.Spec.Grant.Tier, Phase: r.Status.Phase,
			Evidence: r.Annotations[v1alpha1.AnnotationQualifyingEvidence]}
		if r.Status.Phase == v1alpha1.PhaseDenied {
			for _, c := range r.Status.Conditions {
				if c.Type == v1alpha1.ConditionDenied && c.Status == "True" {
					t := c.LastTransitionTime.Time
					p.DeniedAt = &t
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// EvidenceDigest summarises the counted values of the metrics reqs name (not when
// they were observed: a daily refresh of the same figure is no change).
func (ev evidence) digest(reqs []v1alpha1.TierRequirement) string {
	var parts []string
	for _, v := range ev.valuesFor(reqs) {
		parts = append(parts, v.Metric+"="+string(v.Value))
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:8])
}

// promotionState is what the partner's promotion to a pending tier waits on.
type promotionState struct {
	// open names the request under review, if one is.
	open string
	// denied names the last denied request while its retry period runs, and retryAt
	// is when a new request opens unless the evidence changes first.
	denied  string
	retryAt *time.Time
	// toOpen is the request to create now, if any.
	toOpen *PromotionToOpen
}

// promotionFor decides, for a pending tier t, whether a request is under review,
// a recent denial holds a new one back, or a new one is to be opened.
func (e *evaluation) promotionFor(t *v1alpha1.PartnerTier) promotionState {
	var mine []Promotion
	for _, p := range e.promotions {
		if p.Tier == t.Name {
			mine = append(mine, p)
		}
	}
	index := func(p Promotion) int { return promotionIndex(e.partner.Name, t.Name, p.Request) }
	slices.SortFunc(mine, func(a, b Promotion) int { return cmp.Compare(index(a), index(b)) })
	digest := e.evidence.digest(t.Spec.Requirements)
	for _, p := range mine {
		if p.Phase == "" || p.Phase == v1alpha1.PhasePending {
			return promotionState{open: p.Request}
		}
	}
	if n := len(mine); n > 0 {
		last := mine[n-1]
		// A request opened before the digest was kept counts as the same evidence.
		if last.Phase == v1alpha1.PhaseDenied && last.DeniedAt != nil && (last.Evidence == "" || last.Evidence == digest) {
			retry := defaultPromotionRetry
			if t.Spec.PromotionRetryAfter != nil {
				retry = t.Spec.PromotionRetryAfter.Duration
			}
			if at := last.DeniedAt.Add(retry); e.now.Before(at) {
				return promotionState{denied: last.Request, retryAt: &at}
			}
		}
	}
	next := 1
	for _, p := range mine {
		next = max(next, index(p)+1)
	}
	return promotionState{toOpen: &PromotionToOpen{Tier: t.Name, Name: promotionName(e.partner.Name, t.Name, next), Evidence: digest}}
}

// promotionName is the n-th promotion request's name (n from 1): the first keeps
// PromotionRequestName; later ones add "-<n>-<hash of tier and n>", so the n-th
// request to one tier never takes the name of the first request to a tier whose
// name ends in "-<n>".
func promotionName(partner, tier string, n int) string {
	if n <= 1 {
		return v1alpha1.PromotionRequestName(partner, tier)
	}
	sum := sha256.Sum256([]byte(tier + "/" + strconv.Itoa(n)))
	return v1alpha1.PromotionRequestName(partner, tier+"-"+strconv.Itoa(n)+"-"+hex.EncodeToString(sum[:2]))
}

// PromotionName is the name of partner's n-th TierPromotion request to tier.
func PromotionName(partner, tier string, n int) string { return promotionName(partner, tier, n) }

// maxPromotions bounds how many promotion requests per partner and tier the
// controller numbers; far more than a partner could be denied in the retention.
const maxPromotions = 1000

// promotionIndex is n for the n-th promotion request's name, or 0 for a name the
// controller did not generate.
func promotionIndex(partner, tier, name string) int {
	for n := 1; n <= maxPromotions; n++ {
		if promotionName(partner, tier, n) == name {
			return n
		}
	}
	return 0
}

// QualifiesFor reports whether a partner's last evaluated status qualifies it for
// tier name: its qualified tier ranks at least as high. A tier that is missing
// from tiers is qualified for by nobody.
func QualifiesFor(status v1alpha1.PartnerStatus, tiers []v1alpha1.PartnerTier, name string) bool {
	var target, qualified *v1alpha1.PartnerTier
	for i := range tiers {
		if tiers[i].Name == name {
			target = &tiers[i]
		}
		if tiers[i].Name == status.QualifiedTier {
			qualified = &tiers[i]
		}
	}
	return target != nil && qualified != nil && rank(qualified) >= rank(target)
}

// PromotionSpent reports whether the partner's status marks the TierPromotion
// approval of request as used up, and since when.
func PromotionSpent(status v1alpha1.PartnerStatus, request string) (time.Time, bool) {
	for _, g := range status.Grants {
		if g.Request == request && g.SpentAt != nil {
			return g.SpentAt.Time, true
		}
	}
	return time.Time{}, false
}

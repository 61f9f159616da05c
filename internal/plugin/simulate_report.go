package plugin

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Configuration is a set of program-level objects: the live ones read from the
// cluster, or the proposed ones read from files.
type Configuration struct {
	Programs    []v1alpha1.PartnerProgram
	Tiers       []v1alpha1.PartnerTier
	ReviewPaths []v1alpha1.ReviewPath
}

// SimulationInput is everything a simulation compares; it is not modified.
type SimulationInput struct {
	// Now is the instant both evaluations run at.
	Now time.Time
	// Live is the configuration in the cluster; Proposed holds only the proposed
	// objects, which replace live ones of the same name.
	Live, Proposed Configuration
	// Partners are the live partners with their stored status.
	Partners []v1alpha1.Partner
	// Requests are the live exception requests (approved ones are grants).
	Requests []v1alpha1.ExceptionRequest
	// Listings are the live listings.
	Listings []v1alpha1.Listing
	// MaxDemotions is the most demotions the change may cause; negative for no limit.
	MaxDemotions int
	// Prune treats Proposed as the whole set of each kind it holds objects of, as
	// kubectl apply --prune does: a live object of such a kind that Proposed lacks
	// is simulated as deleted and checked against the deletion rules
	// (tier.ProgramDeletionRefusal, tier.TierDeletionRefusal). Live must then hold
	// the live ReviewPaths when Proposed holds any.
	Prune bool
	// AllPartners are the live partners of every namespace, which the deletion
	// rules count; nil when Partners already are every namespace's.
	AllPartners []v1alpha1.Partner
}

// Deletion is a live object that Prune deletes.
type Deletion struct {
	// Kind is PartnerProgram, PartnerTier or ReviewPath.
	Kind string
	Name string
	// Refusal is why the admission webhooks would refuse the deletion; "" when
	// they allow it.
	Refusal string
}

// ChangeKind is how a partner's tier would change.
type ChangeKind string

const (
	// ChangePromotion: the partner would move to a higher tier now.
	ChangePromotion ChangeKind = "promotion"
	// ChangePromotionPending: the partner would qualify for a higher tier whose
	// promotion waits for an approved TierPromotion request.
	ChangePromotionPending ChangeKind = "promotion pending review"
	// ChangeAtRisk: the partner would stop qualifying for its tier: TierAtRisk is
	// set now and the tier drops at the demotion deadline unless evidence recovers.
	ChangeAtRisk ChangeKind = "demotion (at risk now)"
	// ChangeDrop: the partner would move to a lower tier now.
	ChangeDrop ChangeKind = "demotion (drops now)"
	// ChangeRecovers: a demotion under way would be cancelled.
	ChangeRecovers ChangeKind = "demotion cancelled"
	// ChangeEntitlements: the tier stays, its entitlements change.
	ChangeEntitlements ChangeKind = "entitlements"
	// ChangeSameRank: the partner would move now to another tier of the same rank,
	// as when --prune deletes its tier and a new one takes the rank.
	ChangeSameRank ChangeKind = "moves (same rank)"
)

// PartnerChange is what the proposed configuration changes for one partner.
type PartnerChange struct {
	Partner types.NamespacedName
	Program string
	Kind    ChangeKind
	// From is the tier the live configuration gives; To the tier the proposed one
	// gives now (for ChangeAtRisk: the tier it drops to at Deadline).
	From, To string
	// Deadline is the demotion deadline, for ChangeAtRisk.
	Deadline *time.Time
	// Lost and Gained are entitlements, now or, for ChangeAtRisk, at Deadline.
	Lost, Gained []string
	// Detail explains the change for people.
	Detail string
}

// ListingChange is a listing that would be published or unpublished.
type ListingChange struct {
	Listing types.NamespacedName
	Partner string
	Publish bool
	// At is when: nil for now, the partner's demotion deadline otherwise.
	At *time.Time
	// Message is the listing engine's reason under the proposed configuration.
	Message string
}

// SimulationReport is the difference between the live and the proposed configuration.
type SimulationReport struct {
	Now time.Time
	// Evaluated counts the partners evaluated: those of the programs the proposed
	// objects touch.
	Evaluated int
	Changes   []PartnerChange
	Listings  []ListingChange
	// Errors are proposed objects the admission webhooks would refuse.
	Errors []string
	// Notes are things worth knowing that do not fail the simulation.
	Notes        []string
	MaxDemotions int
	// Pruned says the simulation ran with Prune; Deletions are then the live
	// objects it deletes, programs first, then tiers, then review paths, by name.
	Pruned    bool
	Deletions []Deletion
}

// count counts the changes of one kind.
func (r *SimulationReport) count(kind ChangeKind) int {
	n := 0
	for _, c := range r.Changes {
		if c.Kind == kind {
			n++
		}
	}
	return n
}

// Demotions counts partners at risk now and partners dropping now.
func (r *SimulationReport) Demotions() int {
	return r.count(ChangeAtRisk) + r.count(ChangeDrop)
}

// Unpublished counts listings that would be unpublished, now or at a deadline.
func (r *SimulationReport) Unpublished() int {
	n := 0
	for _, l := range r.Listings {
		if !l.Publish {
			n++
		}
	}
	return n
}

// Refused counts the deletions the webhooks would refuse.
func (r *SimulationReport) Refused() int {
	n := 0
	for _, d := range r.Deletions {
		if d.Refusal != "" {
			n++
		}
	}
	return n
}

// Err is why the simulation fails: proposed objects or deletions the webhooks
// would refuse, or more demotions than MaxDemotions; nil otherwise.
func (r *SimulationReport) Err() error {
	var errs []error
	if n := len(r.Errors); n > 0 {
		errs = append(errs, fmt.Errorf("the proposed configuration would be refused at admission: %s", plural(n, "error", "errors")))
	}
	for _, d := range r.Deletions {
		if d.Refusal != "" {
			errs = append(errs, fmt.Errorf("--prune deletes %s %s, which admission would refuse: %s", d.Kind, d.Name, d.Refusal))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if d := r.Demotions(); r.MaxDemotions >= 0 && d > r.MaxDemotions {
		return fmt.Errorf("the change demotes %s, more than --max-demotions %d", plural(d, "partner", "partners"), r.MaxDemotions)
	}
	return nil
}

// plural prints n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

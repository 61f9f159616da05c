package plugin

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/listing"
	"github.com/partnergov/partnergov/internal/tier"
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

// config is a configuration indexed by name.
type config struct {
	programs map[string]*v1alpha1.PartnerProgram
	tiers    map[string]*v1alpha1.PartnerTier
}

func index(c Configuration) config {
	out := config{programs: map[string]*v1alpha1.PartnerProgram{}, tiers: map[string]*v1alpha1.PartnerTier{}}
	for i := range c.Programs {
		out.programs[c.Programs[i].Name] = &c.Programs[i]
	}
	for i := range c.Tiers {
		out.tiers[c.Tiers[i].Name] = &c.Tiers[i]
	}
	return out
}

// overlay returns live with the proposed objects replacing those of the same name.
func overlay(live, proposed config) config {
	out := config{programs: map[string]*v1alpha1.PartnerProgram{}, tiers: map[string]*v1alpha1.PartnerTier{}}
	for _, m := range []config{live, proposed} {
		for k, v := range m.programs {
			out.programs[k] = v
		}
		for k, v := range m.tiers {
			out.tiers[k] = v
		}
	}
	return out
}

// tiersOf returns the tiers of a program, by name.
func (c config) tiersOf(program string) []v1alpha1.PartnerTier {
	var out []v1alpha1.PartnerTier
	for _, t := range c.tiers {
		if t.Spec.Program == program {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.PartnerTier) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Simulate evaluates every partner of the programs the proposed objects touch
// (or, with in.Prune, whose objects it deletes) twice at in.Now, with the live and
// with the proposed configuration, using the controllers' engines (tier.Evaluate,
// listing.Evaluate), and reports what differs.
func Simulate(in SimulationInput) *SimulationReport {
	now := in.Now.Round(0)
	r := &SimulationReport{Now: now, MaxDemotions: in.MaxDemotions, Pruned: in.Prune}
	live, proposedOnly := index(in.Live), index(in.Proposed)
	proposed := overlay(live, proposedOnly)
	if in.Prune {
		r.Deletions = prune(in, live, proposedOnly, proposed)
	}
	r.Errors = validateProposed(live, proposedOnly, proposed)
	for _, name := range sortedKeys(proposedOnly.tiers) {
		if t := proposedOnly.tiers[name]; proposed.programs[t.Spec.Program] == nil {
			r.Notes = append(r.Notes, fmt.Sprintf("PartnerTier %s: program %q does not exist; the tier is admitted and checked when it does", name, t.Spec.Program))
		}
	}
	for _, p := range in.Proposed.ReviewPaths {
		r.Notes = append(r.Notes, fmt.Sprintf("ReviewPath %s: review paths decide exception requests, not tiers; it changes no evaluation", p.Name))
	}
	for _, d := range r.Deletions {
		if d.Kind != kindReviewPath {
			continue
		}
		for _, name := range sortedKeys(proposed.tiers) {
			if proposed.tiers[name].Spec.PromotionReviewPath == d.Name {
				r.Notes = append(r.Notes, fmt.Sprintf("ReviewPath %s: deleted, but PartnerTier %s still names it in spec.promotionReviewPath", d.Name, name))
			}
		}
	}

	affected := map[string]bool{}
	for name := range proposedOnly.programs {
		affected[name] = true
	}
	for name, t := range proposedOnly.tiers {
		affected[t.Spec.Program] = true
		if old := live.tiers[name]; old != nil {
			affected[old.Spec.Program] = true // the tier moves between programs
		}
	}
	for _, d := range r.Deletions {
		switch d.Kind {
		case kindProgram:
			affected[d.Name] = true
		case kindTier:
			affected[live.tiers[d.Name].Spec.Program] = true
		}
	}

	requests := map[types.NamespacedName][]v1alpha1.ExceptionRequest{}
	for _, q := range in.Requests {
		k := types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.Partner}
		requests[k] = append(requests[k], q)
	}
	listings := map[types.NamespacedName][]*v1alpha1.Listing{}
	for i := range in.Listings {
		l := &in.Listings[i]
		k := types.NamespacedName{Namespace: l.Namespace, Name: l.Spec.Partner}
		listings[k] = append(listings[k], l)
	}

	partners := slices.Clone(in.Partners)
	slices.SortFunc(partners, func(a, b v1alpha1.Partner) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for i := range partners {
		p := &partners[i]
		if !affected[p.Spec.Program] {
			continue
		}
		r.Evaluated++
		key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		s := partnerSim{now: now, partner: p, grants: tier.GrantsFrom(requests[key]), requests: requests[key], listings: listings[key]}
		s.compare(r, live, proposed)
	}
	return r
}

// Kinds of the objects simulate reads.
const (
	kindProgram    = "PartnerProgram"
	kindTier       = "PartnerTier"
	kindReviewPath = "ReviewPath"
)

// prune removes from proposed (the overlay of the proposed objects on live) the
// live programs and tiers that the proposed objects lack, for each kind the
// proposed objects hold, and returns every object deleted, review paths included,
// with the verdict of the deletion rules. A program's deletion is checked against
// the tiers the proposed configuration keeps and the live partners; a tier's
// against the live partners holding it.
func prune(in SimulationInput, live, proposedOnly, proposed config) []Deletion {
	holders := in.AllPartners
	if holders == nil {
		holders = in.Partners
	}
	var programs, tiers []string
	if len(proposedOnly.programs) > 0 {
		for _, name := range sortedKeys(live.programs) {
			if proposedOnly.programs[name] == nil {
				programs = append(programs, name)
				delete(proposed.programs, name)
			}
		}
	}
	if len(proposedOnly.tiers) > 0 {
		for _, name := range sortedKeys(live.tiers) {
			if proposedOnly.tiers[name] == nil {
				tiers = append(tiers, name)
				delete(proposed.tiers, name)
			}
		}
	}
	var kept []v1alpha1.PartnerTier
	for _, name := range sortedKeys(proposed.tiers) {
		kept = append(kept, *proposed.tiers[name])
	}

	var out []Deletion
	for _, name := range programs {
		out = append(out, Deletion{Kind: kindProgram, Name: name, Refusal: tier.ProgramDeletionRefusal(name, kept, holders)})
	}
	for _, name := range tiers {
		out = append(out, Deletion{Kind: kindTier, Name: name, Refusal: tier.TierDeletionRefusal(*live.tiers[name], holders)})
	}
	if len(in.Proposed.ReviewPaths) > 0 {
		keep := map[string]bool{}
		for _, p := range in.Proposed.ReviewPaths {
			keep[p.Name] = true
		}
		var paths []string
		for _, p := range in.Live.ReviewPaths {
			if !keep[p.Name] {
				paths = append(paths, p.Name)
			}
		}
		slices.Sort(paths)
		for _, name := range slices.Compact(paths) {
			out = append(out, Deletion{Kind: kindReviewPath, Name: name})
		}
	}
	return out
}

// validateProposed applies the admission rules of PartnerTier and PartnerProgram
// to the proposed objects: a proposed tier must fit its program's catalog and
// have its own rank in the program; a proposed program must not break a tier that
// fitted the catalog it replaces.
func validateProposed(live, proposedOnly, proposed config) []string {
	var errs []string
	for _, name := range sortedKeys(proposedOnly.tiers) {
		t := proposedOnly.tiers[name]
		program := proposed.programs[t.Spec.Program]
		if _, msg, ok := tier.ValidateTier(*t, program); !ok && program != nil {
			errs = append(errs, fmt.Sprintf("PartnerTier %s: %s", name, msg))
		}
		for _, other := range proposed.tiersOf(t.Spec.Program) {
			if other.Name != name && other.Spec.Rank == t.Spec.Rank {
				errs = append(errs, fmt.Sprintf("PartnerTier %s: PartnerTier %q of program %q already has rank %d; each tier of a program needs its own rank",
					name, other.Name, t.Spec.Program, t.Spec.Rank))
			}
		}
	}
	for _, name := range sortedKeys(proposedOnly.programs) {
		newProgram, oldProgram := proposedOnly.programs[name], live.programs[name]
		for _, t := range proposed.tiersOf(name) {
			if proposedOnly.tiers[t.Name] != nil {
				continue // checked above against the proposed program
			}
			if _, _, wasOK := tier.ValidateTier(t, oldProgram); oldProgram != nil && !wasOK {
				continue // it did not fit before either
			}
			if _, msg, ok := tier.ValidateTier(t, newProgram); !ok {
				errs = append(errs, fmt.Sprintf("PartnerProgram %s: this change would break PartnerTier %q: %s; change the tier first", name, t.Name, msg))
			}
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// partnerSim evaluates one partner under both configurations.
type partnerSim struct {
	now      time.Time
	partner  *v1alpha1.Partner
	grants   []tier.Grant
	requests []v1alpha1.ExceptionRequest
	listings []*v1alpha1.Listing
}

// evaluate runs the tier engine as the partner controller does, at now, with
// status as the stored status.
func (s partnerSim) evaluate(c config, status v1alpha1.PartnerStatus, now time.Time) tier.Result {
	p := s.partner.DeepCopy()
	p.Status = status
	return tier.Evaluate(tier.Input{
		Now:     now,
		Program: c.programs[p.Spec.Program],
		Tiers:   c.tiersOf(p.Spec.Program),
		Partner: p,
		Grants:  s.grants,
	})
}

func tierRank(st v1alpha1.PartnerStatus) int32 {
	if st.TierRank == nil {
		return -1
	}
	return *st.TierRank
}

// compare adds the partner's change, if any, and its listings' changes to r.
func (s partnerSim) compare(r *SimulationReport, live, proposed config) {
	before := s.evaluate(live, s.partner.Status, s.now)
	after := s.evaluate(proposed, s.partner.Status, s.now)
	key := types.NamespacedName{Namespace: s.partner.Namespace, Name: s.partner.Name}
	c := PartnerChange{Partner: key, Program: s.partner.Spec.Program, From: before.Status.Tier, To: after.Status.Tier}
	// base and changed are the statuses the entitlements and listings are compared
	// with: now, or at the demotion deadline for a partner put at risk.
	base, changed := before.Status, after.Status
	var at *time.Time
	atRiskBefore, atRiskAfter := before.Status.DemotionDeadline != nil, after.Status.DemotionDeadline != nil

	switch rb, ra := tierRank(before.Status), tierRank(after.Status); {
	case ra > rb:
		c.Kind, c.Detail = ChangePromotion, fmt.Sprintf("promoted to %s now", describeTier(c.To))
	case ra < rb:
		c.Kind, c.Detail = ChangeDrop, fmt.Sprintf("drops to %s now", describeTier(c.To))
	case atRiskAfter && !atRiskBefore:
		deadline := after.Status.DemotionDeadline.Time
		// What the controller does at the deadline if no evidence changes: evaluate
		// again then, with the at-risk status stored, under both configurations.
		dropped := s.evaluate(proposed, after.Status, deadline)
		kept := s.evaluate(live, before.Status, deadline)
		base, changed, at = kept.Status, dropped.Status, &deadline
		c.Kind, c.Deadline, c.To = ChangeAtRisk, &deadline, dropped.Status.Tier
		c.Detail = fmt.Sprintf("TierAtRisk=True now (qualifies for %s); would drop to %s on %s unless evidence recovers",
			describeTier(after.Status.QualifiedTier), describeTier(dropped.Status.Tier), deadline.UTC().Format(time.RFC3339))
	case atRiskBefore && !atRiskAfter:
		c.Kind, c.Detail = ChangeRecovers, fmt.Sprintf("the demotion due %s would be cancelled: it qualifies for %s",
			before.Status.DemotionDeadline.UTC().Format(time.RFC3339), describeTier(after.Status.QualifiedTier))
	case c.From != c.To && !atRiskAfter:
		c.Kind, c.Detail = ChangeSameRank, fmt.Sprintf("moves to %s now, a tier of the same rank", describeTier(c.To))
	case after.PromotionRequest != "" && after.PromotionRequest != before.PromotionRequest:
		c.Kind, c.To = ChangePromotionPending, after.PromotionRequest
		c.Detail = fmt.Sprintf("qualifies for %s; a TierPromotion request would wait for review", after.PromotionRequest)
	}
	c.Lost, c.Gained = entitlementDiff(base.Entitlements, changed.Entitlements)
	if c.Kind == "" && (len(c.Lost) > 0 || len(c.Gained) > 0) {
		c.Kind, c.Detail = ChangeEntitlements, "the tier stays; its entitlements change"
	}
	if c.Kind != "" {
		r.Changes = append(r.Changes, c)
	}
	s.compareListings(r, base, changed, at)
}

// compareListings evaluates each of the partner's listings at now with the
// partner's status from each configuration, as the listing controller would once
// the partner's status is written.
func (s partnerSim) compareListings(r *SimulationReport, before, after v1alpha1.PartnerStatus, at *time.Time) {
	for _, l := range s.listings {
		grants := listing.GrantsFor(s.requests, l.Name)
		eval := func(st v1alpha1.PartnerStatus) listing.Result {
			p := s.partner.DeepCopy()
			p.Status = st
			return listing.Evaluate(listing.Input{Now: s.now, Listing: l, Partner: p, Grants: grants})
		}
		b, a := eval(before), eval(after)
		wasPublished := conditions.True(b.Status.Conditions, v1alpha1.ConditionPublished)
		published := conditions.True(a.Status.Conditions, v1alpha1.ConditionPublished)
		if wasPublished == published {
			continue
		}
		msg := ""
		if i := slices.IndexFunc(a.Status.Conditions, func(c metav1.Condition) bool { return c.Type == v1alpha1.ConditionPublished }); i >= 0 {
			msg = a.Status.Conditions[i].Message
		}
		r.Listings = append(r.Listings, ListingChange{
			Listing: types.NamespacedName{Namespace: l.Namespace, Name: l.Name},
			Partner: s.partner.Name, Publish: published, At: at, Message: msg,
		})
	}
}

// entitlementDiff lists the entitlements (with their segments or cap) only in
// before (lost) and only in after (gained), whatever their source.
func entitlementDiff(before, after []v1alpha1.EffectiveEntitlement) (lost, gained []string) {
	text := func(es []v1alpha1.EffectiveEntitlement) []string {
		var out []string
		for _, e := range es {
			s := string(e.Name)
			if d := entitlementDetail(e); d != none {
				s += " (" + d + ")"
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	b, a := text(before), text(after)
	for _, s := range b {
		if !slices.Contains(a, s) {
			lost = append(lost, s)
		}
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			gained = append(gained, s)
		}
	}
	return lost, gained
}

// describeTier names a tier for people, "no tier" for none.
func describeTier(name string) string {
	if name == "" {
		return "no tier"
	}
	return name
}

// joinOrNone joins names with ", ", or "-" for none.
func joinOrNone(names []string) string {
	if len(names) == 0 {
		return none
	}
	return strings.Join(names, ", ")
}

package plugin

import (
	"cmp"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

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
		s := partnerSim{now: now, partner: p, grants: tier.GrantsFrom(requests[key], nil), requests: requests[key], listings: listings[key]}
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

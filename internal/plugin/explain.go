package plugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/tier"
)

func explainCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "explain (partner|deal) NAME",
		Short: "Explain a partner's tier (each requirement of its tier and the next, with the evidence behind it), or a deal registration's standing (who holds its customer, the line, protection)",
		Example: `  kubectl partnergov explain partner acme-consulting -n partners
  kubectl partnergov explain deal acme-globex-sync -n partners`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 || !slices.Contains([]string{"partner", "partners", "deal", "deals", "dealregistration"}, strings.ToLower(args[0])) {
				return fmt.Errorf("usage: explain partner NAME, or explain deal NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			if strings.HasPrefix(strings.ToLower(args[0]), "deal") {
				e, err := ExplainDeal(cmd.Context(), c, types.NamespacedName{Namespace: ns, Name: args[1]}, time.Now())
				if err != nil {
					return err
				}
				return writeDealExplanation(streams.Out, e)
			}
			e, err := Explain(cmd.Context(), c, types.NamespacedName{Namespace: ns, Name: args[1]}, time.Now())
			if err != nil {
				return err
			}
			return writeExplanation(streams.Out, e)
		},
	}
}

// Explanation is why a partner holds its tier, as of Now.
type Explanation struct {
	Now     time.Time
	Partner *v1alpha1.Partner
	// Program is the partner's program; nil when it does not exist.
	Program *v1alpha1.PartnerProgram
	// Current is the tier held, Next the tier of the next rank above it (the
	// lowest-rank tier when none is held); either may be nil.
	Current, Next *TierExplanation
	// Plans are the partner's JointBusinessPlans, newest period first.
	Plans []v1alpha1.JointBusinessPlan
	// Deadlines that lie ahead; Next is the earliest of them.
	Demotion, Stale, GrantExpiry, NextDeadline *Deadline
}

// TierExplanation checks one tier's requirements against the partner's evidence.
type TierExplanation struct {
	Tier         *v1alpha1.PartnerTier
	Requirements []RequirementCheck
	// Problem is why the tier cannot be earned at all (tier.ValidateTier), or "".
	Problem string
}

// Met reports whether every requirement is met and the tier can be earned.
func (t *TierExplanation) Met() bool {
	if t.Problem != "" {
		return false
	}
	for _, r := range t.Requirements {
		if !r.Met {
			return false
		}
	}
	return true
}

// RequirementCheck is one requirement and the evidence it was checked against.
type RequirementCheck struct {
	v1alpha1.TierRequirement
	// Evidence is the partner's entry for the metric; nil when none was reported.
	Evidence *v1alpha1.EvidenceEntry
	// Met is true when the evidence counts (in the catalog, still trusted, fresh)
	// and satisfies the requirement.
	Met bool
	// Counts is true when the evidence is in the catalog, still trusted and fresh.
	Counts bool
	// State says for people whether the evidence counts, and why not.
	State string
}

// Deadline is an instant at which the partner's tier or entitlements may change.
type Deadline struct {
	At   time.Time
	What string
}

// Explain reads the partner, its program and the program's tiers and explains the
// partner's tier as of now.
func Explain(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) (*Explanation, error) {
	var p v1alpha1.Partner
	if err := c.Get(ctx, key, &p); err != nil {
		return nil, err
	}
	var program *v1alpha1.PartnerProgram
	var prog v1alpha1.PartnerProgram
	switch err := c.Get(ctx, types.NamespacedName{Name: p.Spec.Program}, &prog); {
	case err == nil:
		program = &prog
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	var tiers v1alpha1.PartnerTierList
	err := c.List(ctx, &tiers)
	if err != nil {
		return nil, err
	}
	e := explain(&p, program, tiers.Items, now)
	if e.Plans, err = partnerPlans(ctx, c, &p); err != nil {
		return nil, err
	}
	return e, nil
}

// explain is Explain on objects already read.
func explain(p *v1alpha1.Partner, program *v1alpha1.PartnerProgram, tiers []v1alpha1.PartnerTier, now time.Time) *Explanation {
	e := &Explanation{Now: now, Partner: p, Program: program}
	var ladder []*v1alpha1.PartnerTier
	for i := range tiers {
		if tiers[i].Spec.Program == p.Spec.Program {
			ladder = append(ladder, &tiers[i])
		}
	}
	slices.SortFunc(ladder, func(a, b *v1alpha1.PartnerTier) int {
		return cmp.Or(cmp.Compare(a.Spec.Rank, b.Spec.Rank), cmp.Compare(a.Name, b.Name))
	})
	catalog := map[string]v1alpha1.MetricDefinition{}
	if program != nil {
		for _, m := range program.Spec.Metrics {
			catalog[m.Name] = m
		}
	}

	currentRank := int32(-1)
	for _, t := range ladder {
		if t.Name == p.Status.Tier {
			e.Current = checkTier(t, p, program, catalog, now)
			currentRank = t.Spec.Rank
		}
	}
	if e.Current == nil && p.Status.Tier != "" && p.Status.TierRank != nil {
		currentRank = *p.Status.TierRank // the tier held no longer exists
	}
	for _, t := range ladder {
		if t.Spec.Rank > currentRank {
			e.Next = checkTier(t, p, program, catalog, now)
			break
		}
	}
	e.deadlines(catalog)
	return e
}

// checkTier checks each of t's requirements against the partner's evidence.
func checkTier(t *v1alpha1.PartnerTier, p *v1alpha1.Partner, program *v1alpha1.PartnerProgram, catalog map[string]v1alpha1.MetricDefinition, now time.Time) *TierExplanation {
	te := &TierExplanation{Tier: t}
	if _, msg, ok := tier.ValidateTier(*t, program); !ok {
		te.Problem = msg
	}
	for _, req := range t.Spec.Requirements {
		rc := RequirementCheck{TierRequirement: req}
		if def, ok := catalog[req.Metric]; ok && def.Source == v1alpha1.MetricSourceDeals {
			// Computed by the controller from won deals: status.dealMetrics.
			if i := slices.IndexFunc(p.Status.DealMetrics, func(m v1alpha1.ComputedMetric) bool { return m.Metric == req.Metric }); i >= 0 {
				m := p.Status.DealMetrics[i]
				rc.Evidence = &v1alpha1.EvidenceEntry{Metric: m.Metric, Value: m.Value, ObservedAt: metav1.NewTime(now), Source: "partnergov", TrustedVia: "deals"}
				rc.Counts, rc.State = true, fmt.Sprintf("computed from %d won deal(s): %s", m.DealCount, strings.Join(m.Deals, ", "))
			} else {
				rc.State = "no won deals computed yet"
			}
			rc.Met = rc.Counts && tier.Satisfies(req.Operator, rc.Evidence.Value, req.Threshold)
			te.Requirements = append(te.Requirements, rc)
			continue
		}
		if i := slices.IndexFunc(p.Status.Evidence, func(e v1alpha1.EvidenceEntry) bool { return e.Metric == req.Metric }); i >= 0 {
			rc.Evidence = &p.Status.Evidence[i]
		}
		rc.Counts, rc.State = evidenceState(rc.Evidence, req.Metric, catalog, now)
		rc.Met = rc.Counts && tier.Satisfies(req.Operator, rc.Evidence.Value, req.Threshold)
		te.Requirements = append(te.Requirements, rc)
	}
	return te
}

// evidenceVerdict is whether an evidence entry counts, as the tier engine counts it.
type evidenceVerdict int

const (
	evidenceNotInCatalog evidenceVerdict = iota
	evidenceUntrusted                    // the rule that admitted it is no longer trusted
	evidenceNotANumber
	evidenceStale
	evidenceCurrent
)

// judgeEvidence says whether entry e (not nil) counts: in the catalog, still
// trusted, a number, fresh. It returns the metric's definition and, for a number
// that is trusted, when it goes (or went) stale.
func judgeEvidence(e *v1alpha1.EvidenceEntry, catalog map[string]v1alpha1.MetricDefinition, now time.Time) (evidenceVerdict, v1alpha1.MetricDefinition, time.Time) {
	def, inCatalog := catalog[e.Metric]
	switch {
	case !inCatalog:
		return evidenceNotInCatalog, def, time.Time{}
	case !tier.StillTrusted(def, e.TrustedVia):
		return evidenceUntrusted, def, time.Time{}
	}
	if _, err := decimal.Parse(e.Value); err != nil {
		return evidenceNotANumber, def, time.Time{}
	}
	staleAt := tier.StaleAt(def, e.ObservedAt.Time)
	if !now.Before(staleAt) {
		return evidenceStale, def, staleAt
	}
	return evidenceCurrent, def, staleAt
}

// evidenceState says whether an entry counts as the tier engine counts it (in the
// catalog, still trusted, a number, fresh), and describes it for people.
func evidenceState(e *v1alpha1.EvidenceEntry, metric string, catalog map[string]v1alpha1.MetricDefinition, now time.Time) (counts bool, state string) {
	if e == nil {
		return false, "no evidence reported"
	}
	verdict, def, staleAt := judgeEvidence(e, catalog, now)
	switch verdict {
	case evidenceNotInCatalog:
		return false, "ignored: metric not in the program's catalog"
	case evidenceUntrusted:
		return false, fmt.Sprintf("ignored: not trusted (admitted via %q, which the catalog no longer trusts)", e.TrustedVia)
	case evidenceNotANumber:
		return false, "ignored: value is not a decimal number"
	case evidenceStale:
		return false, fmt.Sprintf("stale since %s (freshness window %s), trusted via %s",
			staleAt.UTC().Format(time.RFC3339), def.FreshnessWindow.Duration, e.TrustedVia)
	}
	return true, fmt.Sprintf("fresh until %s (%s), trusted via %s",
		staleAt.UTC().Format(time.RFC3339), relative(staleAt, now), e.TrustedVia)
}

// deadlines fills the demotion deadline, the earliest instant counted evidence goes
// stale, the earliest grant expiry, and the earliest of the three.
func (e *Explanation) deadlines(catalog map[string]v1alpha1.MetricDefinition) {
	st := e.Partner.Status
	if d := st.DemotionDeadline; d != nil && d.After(e.Now) {
		e.Demotion = &Deadline{At: d.Time, What: fmt.Sprintf("tier %s is lost unless the evidence recovers", st.Tier)}
	}
	for i := range st.Evidence {
		ev := &st.Evidence[i]
		if counts, _ := evidenceState(ev, ev.Metric, catalog, e.Now); counts {
			at := tier.StaleAt(catalog[ev.Metric], ev.ObservedAt.Time)
			e.Stale = earliest(e.Stale, &Deadline{At: at, What: fmt.Sprintf("evidence of %s goes stale", ev.Metric)})
		}
	}
	for _, g := range st.Grants {
		if g.Expires != nil && g.Expires.After(e.Now) {
			e.GrantExpiry = earliest(e.GrantExpiry, &Deadline{At: g.Expires.Time, What: fmt.Sprintf("%s %s expires", g.Type, g.Request)})
		}
	}
	e.NextDeadline = earliest(earliest(e.Demotion, e.Stale), e.GrantExpiry)
}

// earliest returns the earlier of two optional deadlines (a on a tie).
func earliest(a, b *Deadline) *Deadline {
	if a == nil || (b != nil && b.At.Before(a.At)) {
		return b
	}
	return a
}

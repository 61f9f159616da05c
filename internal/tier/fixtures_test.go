package tier

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

const (
	day = 24 * time.Hour

	revenue   = "sourced-revenue"
	wins      = "customer-wins"
	engineers = "certified-engineers"
	escalate  = "escalations"

	partnerGeneration = 5
	programGeneration = 7
)

// now is the evaluation time of every scenario unless it says otherwise.
var now = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

// at is now shifted by d, as a pointer for optional fields.
func at(d time.Duration) *time.Time {
	t := now.Add(d)
	return &t
}

func metric(name string, class v1alpha1.MetricClass, window time.Duration, who v1alpha1.Identities) v1alpha1.MetricDefinition {
	return v1alpha1.MetricDefinition{
		Name: name, Class: class, Unit: "count",
		FreshnessWindow:  metav1.Duration{Duration: window},
		TrustedReporters: who,
	}
}

// program is the catalog of the scenarios: two Outcome metrics (90 days fresh), one
// Enablement metric (a year) and one Risk metric (30 days), each trusted by
// a different kind of rule.
func program() *v1alpha1.PartnerProgram {
	return &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "partners", Generation: programGeneration},
		Status:     v1alpha1.PartnerProgramStatus{ObservedGeneration: programGeneration, CatalogSince: &policySince},
		Spec: v1alpha1.PartnerProgramSpec{
			Owner: "alliances@example.com",
			Metrics: []v1alpha1.MetricDefinition{
				metric(revenue, v1alpha1.MetricClassOutcome, 90*day, v1alpha1.Identities{
					Users:           []string{"crm-sync@example.com"},
					Groups:          []string{"partnergov:crm"},
					ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "crm", Name: "sync"}},
				}),
				metric(wins, v1alpha1.MetricClassOutcome, 90*day, v1alpha1.Identities{Groups: []string{"partnergov:crm"}}),
				metric(engineers, v1alpha1.MetricClassEnablement, 365*day, v1alpha1.Identities{Users: []string{"lms@example.com"}}),
				metric(escalate, v1alpha1.MetricClassRisk, 30*day, v1alpha1.Identities{
					ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "delivery", Name: "reporter"}},
				}),
			},
		},
	}
}

func req(metric string, op v1alpha1.ComparisonOperator, threshold v1alpha1.Decimal) v1alpha1.TierRequirement {
	return v1alpha1.TierRequirement{Metric: metric, Operator: op, Threshold: threshold}
}

// policySince is when the fixture's tiers and catalog took effect, as their
// controllers recorded: long before any scenario's evidence.
var policySince = metav1.NewTime(now.Add(-365 * day))

func tierNamed(name string, rank int32, generation int64, reqs ...v1alpha1.TierRequirement) v1alpha1.PartnerTier {
	return v1alpha1.PartnerTier{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: generation},
		Spec:       v1alpha1.PartnerTierSpec{Program: "partners", Rank: rank, Requirements: reqs},
		Status:     v1alpha1.PartnerTierStatus{ObservedGeneration: generation, RequirementsSince: &policySince},
	}
}

func grace(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// The ladder: registered (everyone), silver, gold (10-day grace) and platinum
// (10-day grace, promotion reviewed).
func registered() v1alpha1.PartnerTier {
	t := tierNamed("registered", 0, 1)
	t.Spec.Entitlements.List = true
	return t
}

func silver() v1alpha1.PartnerTier {
	t := tierNamed("silver", 1, 2,
		req(revenue, v1alpha1.OperatorGreaterThanOrEqual, "100000"),
		req(engineers, v1alpha1.OperatorGreaterThanOrEqual, "2"))
	t.Spec.Entitlements = v1alpha1.Entitlements{Resell: true, List: true}
	return t
}

func gold() v1alpha1.PartnerTier {
	t := tierNamed("gold", 2, 3,
		req(revenue, v1alpha1.OperatorGreaterThanOrEqual, "500000"),
		req(wins, v1alpha1.OperatorGreaterThanOrEqual, "5"),
		req(escalate, v1alpha1.OperatorLessThanOrEqual, "2"))
	t.Spec.Entitlements = v1alpha1.Entitlements{
		Resell: true, Implement: true, List: true,
		CoSell:             &v1alpha1.CoSellEntitlement{Segments: []string{"enterprise", "mid-market"}},
		FundsCapPerQuarter: &v1alpha1.Money{Amount: "50000", Currency: "USD"},
	}
	t.Spec.DemotionGracePeriod = grace(10 * day)
	return t
}

func platinum() v1alpha1.PartnerTier {
	t := tierNamed("platinum", 3, 4,
		req(revenue, v1alpha1.OperatorGreaterThanOrEqual, "2000000"),
		req(wins, v1alpha1.OperatorGreaterThan, "20"))
	t.Spec.Entitlements = v1alpha1.Entitlements{
		Resell: true, Implement: true, List: true, ClaimCertification: true,
		CoSell:             &v1alpha1.CoSellEntitlement{Segments: []string{"strategic"}},
		FundsCapPerQuarter: &v1alpha1.Money{Amount: "250000", Currency: "USD"},
	}
	t.Spec.DemotionGracePeriod = grace(10 * day)
	t.Spec.PromotionReviewPath = "platinum-review"
	return t
}

// Listed in a scrambled order: Evaluate must not depend on it.
func ladderTiers() []v1alpha1.PartnerTier {
	return []v1alpha1.PartnerTier{gold(), registered(), platinum(), silver()}
}

var tierRanks = map[string]int32{"registered": 0, "silver": 1, "gold": 2, "platinum": 3, "diamond": 9}

// reporters maps each metric to the rule and identity that report it in the scenarios.
var reporters = map[string][2]string{
	revenue:   {"user:crm-sync@example.com", "crm-sync@example.com"},
	wins:      {"group:partnergov:crm", "crm-bridge@example.com"},
	engineers: {"user:lms@example.com", "lms@example.com"},
	escalate:  {"serviceaccount:delivery/reporter", "system:serviceaccount:delivery:reporter"},
}

// entry is evidence reported a day ago by the metric's trusted reporter.
func entry(metric string, value v1alpha1.Decimal) v1alpha1.EvidenceEntry {
	r := reporters[metric]
	return v1alpha1.EvidenceEntry{
		Metric: metric, Value: value,
		ObservedAt: metav1.NewTime(now.Add(-day)),
		TrustedVia: r[0], Source: r[1],
	}
}

func observedAgo(e v1alpha1.EvidenceEntry, ago time.Duration) v1alpha1.EvidenceEntry {
	e.ObservedAt = metav1.NewTime(now.Add(-ago))
	return e
}

func reportedBy(e v1alpha1.EvidenceEntry, via, source string) v1alpha1.EvidenceEntry {
	e.TrustedVia, e.Source = via, source
	return e
}

// Evidence sets a day old. Silver's goes stale first in 89 days (revenue); gold's
// and platinum's in 29 days (escalations).
func silverEvidence() []v1alpha1.EvidenceEntry {
	return []v1alpha1.EvidenceEntry{entry(revenue, "150000"), entry(engineers, "3")}
}

func goldEvidence() []v1alpha1.EvidenceEntry {
	return []v1alpha1.EvidenceEntry{entry(revenue, "600000"), entry(wins, "6"), entry(escalate, "1"), entry(engineers, "3")}
}

func platinumEvidence() []v1alpha1.EvidenceEntry {
	return []v1alpha1.EvidenceEntry{entry(revenue, "2500000"), entry(wins, "25"), entry(escalate, "0"), entry(engineers, "5")}
}

// option adjusts a scenario's input.
type option func(*Input)

// input is a partner without tier or evidence in the fixture program and ladder.
func input(opts ...option) Input {
	in := Input{
		Now:     now,
		Program: program(),
		Tiers:   ladderTiers(),
		Partner: &v1alpha1.Partner{
			ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "partners", Generation: partnerGeneration},
			Spec: v1alpha1.PartnerSpec{
				Program: "partners", Type: v1alpha1.PartnerTypeGSI, Owner: "pam@example.com",
				Segments: []string{"enterprise"},
			},
		},
	}
	for _, o := range opts {
		o(&in)
	}
	return in
}

// holding stores tier as held for 100 days.
func holding(tier string) option {
	return func(in *Input) {
		r := tierRanks[tier]
		since := metav1.NewTime(now.Add(-100 * day))
		in.Partner.Status.Tier, in.Partner.Status.TierRank, in.Partner.Status.TierSince = tier, &r, &since
	}
}

func withEvidence(entries ...v1alpha1.EvidenceEntry) option {
	return func(in *Input) { in.Partner.Status.Evidence = append(in.Partner.Status.Evidence, entries...) }
}

func withGrant(g Grant) option {
	return func(in *Input) { in.Grants = append(in.Grants, g) }
}

func withDeadline(d time.Duration) option {
	return func(in *Input) {
		t := metav1.NewTime(now.Add(d))
		in.Partner.Status.DemotionDeadline = &t
	}
}

func withTiers(tiers ...v1alpha1.PartnerTier) option {
	return func(in *Input) { in.Tiers = tiers }
}

func withCondition(typ string, status metav1.ConditionStatus, reason string, since time.Duration) option {
	return func(in *Input) {
		in.Partner.Status.Conditions = append(in.Partner.Status.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: "stored",
			ObservedGeneration: partnerGeneration - 1, LastTransitionTime: metav1.NewTime(now.Add(-since)),
		})
	}
}

func suspended(in *Input)      { in.Partner.Spec.Suspended = true }
func withoutProgram(in *Input) { in.Program = nil }

func tierException(request, tier string, expires *time.Time) Grant {
	return Grant{Request: request, Type: v1alpha1.RequestTierException, Tier: tier, Expires: expires}
}

func tierPromotion(request, tier string, expires *time.Time) Grant {
	return Grant{Request: request, Type: v1alpha1.RequestTierPromotion, Tier: tier, Expires: expires}
}

func incentive(request string, expires *time.Time, names ...v1alpha1.EntitlementName) Grant {
	return Grant{Request: request, Type: v1alpha1.RequestIncentiveException, Entitlements: names, Expires: expires}
}

// snapshot deep-copies an input, to check that Evaluate leaves it alone.
func snapshot(in Input) Input {
	out := Input{Now: in.Now, Program: in.Program.DeepCopy(), Partner: in.Partner.DeepCopy()}
	for _, t := range in.Tiers {
		out.Tiers = append(out.Tiers, *t.DeepCopy())
	}
	for _, g := range in.Grants {
		g.Entitlements = append([]v1alpha1.EntitlementName(nil), g.Entitlements...)
		if g.Expires != nil {
			e := *g.Expires
			g.Expires = &e
		}
		out.Grants = append(out.Grants, g)
	}
	return out
}

// describeDecision summarises a decision as "from -> to: Reason (request)".
func describeDecision(d *v1alpha1.TierDecision) string {
	if d == nil {
		return ""
	}
	s := fmt.Sprintf("%s -> %s: %s", orDash(d.From), orDash(d.To), d.Reason)
	if d.Request != "" {
		s += " (" + d.Request + ")"
	}
	return s
}

// describeEntitlement summarises an entitlement as "Name[segments] cap A C from Kind/name until T".
func describeEntitlement(e v1alpha1.EffectiveEntitlement) string {
	s := string(e.Name)
	if len(e.Segments) > 0 {
		s += "[" + strings.Join(e.Segments, ",") + "]"
	}
	if e.Cap != nil {
		s += fmt.Sprintf(" cap %s %s", e.Cap.Amount, e.Cap.Currency)
	}
	s += fmt.Sprintf(" from %s/%s", e.Source.Kind, e.Source.Name)
	if e.Expires != nil {
		s += " until " + e.Expires.UTC().Format(time.RFC3339)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

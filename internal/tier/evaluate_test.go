package tier

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// want is what a scenario expects of Evaluate. tier, qualified, decision,
// deadline, next and promotionRequest are always checked; the rest when set.
type want struct {
	tier             string
	qualified        string
	decision         string     // describeDecision of Result.Decision; "" for none
	deadline         *time.Time // Status.DemotionDeadline
	next             *time.Time // Result.NextDeadline
	promotionRequest string

	conditions   map[string]string   // condition type -> "Status/Reason"
	messages     map[string][]string // condition type -> fragments its message contains
	entitlements []string            // describeEntitlement of each; nil to skip, empty for none
	grants       []string            // requests of Status.Grants; nil to skip, empty for none
	check        func(t *testing.T, in Input, r Result)
}

type scenario struct {
	in   Input
	want want
}

// settled conditions of a partner that holds its tier on fresh, trusted evidence.
func settled(extra map[string]string) map[string]string {
	c := map[string]string{
		v1alpha1.ConditionEvidenceCurrent:  "True/EvidenceFresh",
		v1alpha1.ConditionEvidenceTrusted:  "True/EvidenceTrusted",
		v1alpha1.ConditionTierAtRisk:       "False/Qualified",
		v1alpha1.ConditionPromotionPending: "False/NotQualified",
		v1alpha1.ConditionReady:            "True/Reconciled",
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func scenarios() map[string]scenario {
	return map[string]scenario{
		// Rule 4: qualification.
		"the entry tier without requirements qualifies everyone": {
			in: input(),
			want: want{
				tier: "registered", qualified: "registered", decision: "- -> registered: Promoted",
				conditions:   settled(nil),
				entitlements: []string{"List from Tier/registered"},
				grants:       []string{},
				check: func(t *testing.T, _ Input, r Result) {
					if r.Status.TierRank == nil || *r.Status.TierRank != 0 {
						t.Errorf("tierRank = %v, want 0", r.Status.TierRank)
					}
					if len(r.Decision.Evidence) != 0 {
						t.Errorf("decision evidence = %v, want none for a tier without requirements", r.Decision.Evidence)
					}
				},
			},
		},
		"meeting silver's requirements promotes from registered": {
			in: input(holding("registered"), withEvidence(silverEvidence()...)),
			want: want{
				tier: "silver", qualified: "silver", decision: "registered -> silver: Promoted", next: at(89 * day),
				conditions:   settled(nil),
				entitlements: []string{"Resell from Tier/silver", "List from Tier/silver"},
			},
		},
		"a promotion goes straight to the highest tier the evidence earns": {
			in: input(withEvidence(goldEvidence()...)),
			want: want{
				tier: "gold", qualified: "gold", decision: "- -> gold: Promoted", next: at(29 * day),
				entitlements: []string{
					"Resell from Tier/gold", "Implement from Tier/gold", "List from Tier/gold",
					"CoSell[enterprise,mid-market] from Tier/gold", "Funds cap 50000 USD from Tier/gold",
				},
				check: func(t *testing.T, in Input, r Result) {
					d := r.Decision
					wantEvidence := []string{"customer-wins=6", "escalations=1", "sourced-revenue=600000"}
					if got := evidenceOf(d); !slices.Equal(got, wantEvidence) {
						t.Errorf("decision evidence = %v, want %v (gold's requirement metrics, sorted)", got, wantEvidence)
					}
					if !d.Time.Time.Equal(now) || d.TierGeneration != 3 || d.ProgramGeneration != programGeneration {
						t.Errorf("decision time/tierGeneration/programGeneration = %v/%d/%d, want %v/3/%d",
							d.Time, d.TierGeneration, d.ProgramGeneration, now, programGeneration)
					}
					if !strings.Contains(d.Message, "Promoted from no tier to tier gold") {
						t.Errorf("decision message = %q", d.Message)
					}
				},
			},
		},
		"the operators compare exactly: two escalations meet at most two": {
			in:   input(withEvidence(entry(revenue, "500000"), entry(wins, "5"), entry(escalate, "2.000000000"))),
			want: want{tier: "gold", qualified: "gold", decision: "- -> gold: Promoted", next: at(29 * day)},
		},
		"the operators compare exactly: a fraction over two escalations fails gold": {
			in:   input(withEvidence(entry(revenue, "500000"), entry(wins, "5"), entry(escalate, "2.000000001"))),
			want: want{tier: "registered", qualified: "registered", decision: "- -> registered: Promoted", next: at(29 * day)},
		},

		// Rule 1: counted evidence.
		"stale evidence does not count": {
			in: input(holding("registered"), withEvidence(observedAgo(entry(revenue, "150000"), 100*day), entry(engineers, "3"))),
			want: want{
				tier: "registered", qualified: "registered", next: at(364 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceCurrent: "False/EvidenceStale"}),
				messages:   map[string][]string{v1alpha1.ConditionEvidenceCurrent: {"metric sourced-revenue went stale at 2026-09-21T12:00:00Z"}},
			},
		},
		"evidence observed exactly one freshness window ago is stale": {
			in: input(holding("registered"), withEvidence(observedAgo(entry(revenue, "150000"), 90*day), entry(engineers, "3"))),
			want: want{
				tier: "registered", qualified: "registered", next: at(364 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceCurrent: "False/EvidenceStale"}),
				messages:   map[string][]string{v1alpha1.ConditionEvidenceCurrent: {"metric sourced-revenue went stale at 2026-10-01T12:00:00Z"}},
			},
		},
		"stale metrics are listed in metric order": {
			in: input(holding("registered"), withEvidence(
				observedAgo(entry(wins, "9"), 91*day), observedAgo(entry(engineers, "3"), 400*day), observedAgo(entry(escalate, "0"), 31*day))),
			want: want{
				tier: "registered", qualified: "registered",
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceCurrent: "False/EvidenceStale"}),
				messages: map[string][]string{v1alpha1.ConditionEvidenceCurrent: {
					"metric certified-engineers went stale at 2026-08-27T12:00:00Z; metric customer-wins went stale at 2026-09-30T12:00:00Z; metric escalations went stale at 2026-09-30T12:00:00Z",
				}},
			},
		},
		"evidence from a reporter the catalog no longer trusts is ignored": {
			in: input(holding("registered"), withEvidence(
				reportedBy(entry(revenue, "150000"), "user:old-crm@example.com", "old-crm@example.com"), entry(engineers, "3"))),
			want: want{
				tier: "registered", qualified: "registered", next: at(364 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceTrusted: "False/UntrustedEvidence"}),
				messages: map[string][]string{v1alpha1.ConditionEvidenceTrusted: {
					"metric sourced-revenue reported by old-crm@example.com is no longer trusted by the catalog",
				}},
			},
		},
		"evidence without a recorded trust rule is ignored": {
			in: input(holding("registered"), withEvidence(reportedBy(entry(revenue, "150000"), "", ""), entry(engineers, "3"))),
			want: want{
				tier: "registered", qualified: "registered", next: at(364 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceTrusted: "False/UntrustedEvidence"}),
				messages: map[string][]string{v1alpha1.ConditionEvidenceTrusted: {
					"metric sourced-revenue reported by an unrecorded identity is no longer trusted by the catalog",
				}},
			},
		},
		"evidence for a metric outside the catalog is ignored": {
			in: input(holding("silver"), withEvidence(silverEvidence()...),
				withEvidence(reportedBy(entry("nps", "70"), "user:survey@example.com", "survey@example.com"))),
			want: want{
				tier: "silver", qualified: "silver", next: at(89 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceTrusted: "False/UntrustedEvidence"}),
				messages: map[string][]string{v1alpha1.ConditionEvidenceTrusted: {
					"metric nps reported by survey@example.com is not in the catalog",
				}},
			},
		},
		"evidence that is not a number is ignored": {
			in: input(holding("registered"), withEvidence(entry(revenue, "lots"), entry(engineers, "3"))),
			want: want{
				tier: "registered", qualified: "registered", next: at(364 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceTrusted: "False/UntrustedEvidence"}),
				messages:   map[string][]string{v1alpha1.ConditionEvidenceTrusted: {`metric sourced-revenue reported by crm-sync@example.com has value "lots"`}},
			},
		},

		// Rule 3: tier validity.
		"an enablement-only tier above rank 0 never qualifies": {
			in: input(
				withTiers(registered(), tierNamed("academy", 1, 1, req(engineers, v1alpha1.OperatorGreaterThanOrEqual, "1"))),
				withEvidence(entry(engineers, "40"))),
			want: want{tier: "registered", qualified: "registered", decision: "- -> registered: Promoted", next: at(364 * day)},
		},
		"a tier above rank 0 without requirements never qualifies": {
			in:   input(withTiers(registered(), tierNamed("free-gold", 5, 1))),
			want: want{tier: "registered", qualified: "registered", decision: "- -> registered: Promoted"},
		},
		"without an entry tier a partner without evidence holds none": {
			in: input(withTiers(silver(), gold())),
			want: want{
				tier: "", qualified: "",
				conditions: settled(nil),
				messages: map[string][]string{
					v1alpha1.ConditionTierAtRisk: {"holds no tier"},
					v1alpha1.ConditionReady:      {"holds no tier"},
				},
				entitlements: []string{},
			},
		},

		// Rule 5: promotion.
		"a promotion that needs review waits and asks for a TierPromotion request": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...)),
			want: want{
				tier: "gold", qualified: "platinum", next: at(29 * day), promotionRequest: "platinum",
				conditions: settled(map[string]string{v1alpha1.ConditionPromotionPending: "True/AwaitingReview"}),
				messages:   map[string][]string{v1alpha1.ConditionPromotionPending: {"tier platinum", "review path platinum-review"}},
			},
		},
		"a promotion from no tier stops below the tier that needs review": {
			in: input(withEvidence(platinumEvidence()...)),
			want: want{
				tier: "gold", qualified: "platinum", decision: "- -> gold: Promoted", next: at(29 * day), promotionRequest: "platinum",
				conditions: settled(map[string]string{v1alpha1.ConditionPromotionPending: "True/AwaitingReview"}),
			},
		},
		"an approved TierPromotion promotes and names the request": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...), withGrant(tierPromotion("acme-platinum", "platinum", nil))),
			want: want{
				tier: "platinum", qualified: "platinum", decision: "gold -> platinum: Promoted (acme-platinum)", next: at(29 * day),
				conditions: settled(nil),
				grants:     []string{"acme-platinum"},
				check: func(t *testing.T, _ Input, r Result) {
					if !strings.Contains(r.Decision.Message, "approved by request acme-platinum") {
						t.Errorf("decision message = %q, want it to name the request", r.Decision.Message)
					}
				},
			},
		},
		"a TierPromotion expiring now is ignored": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...), withGrant(tierPromotion("acme-platinum", "platinum", at(0)))),
			want: want{
				tier: "gold", qualified: "platinum", next: at(29 * day), promotionRequest: "platinum",
				conditions: settled(map[string]string{v1alpha1.ConditionPromotionPending: "True/AwaitingReview"}),
				grants:     []string{},
			},
		},
		"an approved TierPromotion does not promote without the evidence": {
			in: input(holding("gold"), withEvidence(goldEvidence()...), withGrant(tierPromotion("acme-platinum", "platinum", at(60*day)))),
			want: want{
				tier: "gold", qualified: "gold", next: at(29 * day),
				conditions: settled(nil),
				grants:     []string{"acme-platinum"},
			},
		},

		// Rule 6: demotion.
		"losing qualification starts the tier's grace period when the failing value was observed": {
			in: input(holding("gold"), withEvidence(silverEvidence()...)),
			want: want{
				tier: "gold", qualified: "silver", deadline: at(9 * day), next: at(9 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionTierAtRisk: "True/GracePeriod"}),
				messages:   map[string][]string{v1alpha1.ConditionTierAtRisk: {"tier gold", "2026-10-10T12:00:00Z"}},
				entitlements: []string{
					"Resell from Tier/gold", "Implement from Tier/gold", "List from Tier/gold",
					"CoSell[enterprise,mid-market] from Tier/gold", "Funds cap 50000 USD from Tier/gold",
				},
			},
		},
		"a tier without a grace period gives 720h": {
			in: input(holding("silver")),
			want: want{
				tier: "silver", qualified: "registered", deadline: at(30 * day), next: at(30 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionTierAtRisk: "True/GracePeriod"}),
			},
		},
		"a running grace period keeps its deadline": {
			in: input(holding("gold"), withEvidence(silverEvidence()...), withDeadline(3*day)),
			want: want{
				tier: "gold", qualified: "silver", deadline: at(3 * day), next: at(3 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionTierAtRisk: "True/GracePeriod"}),
			},
		},
		"the deadline passing demotes to the qualified tier": {
			in: input(holding("gold"), withEvidence(silverEvidence()...), withDeadline(0),
				withCondition(v1alpha1.ConditionTierAtRisk, metav1.ConditionTrue, v1alpha1.ReasonGracePeriod, 10*day)),
			want: want{
				tier: "silver", qualified: "silver", decision: "gold -> silver: Demoted", next: at(89 * day),
				conditions:   settled(nil),
				entitlements: []string{"Resell from Tier/silver", "List from Tier/silver"},
				check: func(t *testing.T, _ Input, r Result) {
					d := r.Decision
					if got := evidenceOf(d); !slices.Equal(got, []string{"sourced-revenue=150000"}) {
						t.Errorf("decision evidence = %v, want gold's requirement metrics that were counted", got)
					}
					if d.TierGeneration != 3 {
						t.Errorf("tierGeneration = %d, want gold's 3", d.TierGeneration)
					}
					if !strings.Contains(d.Message, "deadline 2026-10-01T12:00:00Z") {
						t.Errorf("decision message = %q, want the deadline", d.Message)
					}
				},
			},
		},
		"a zero grace period demotes at once": {
			in: input(holding("gold"), withEvidence(silverEvidence()...), func(in *Input) {
				in.Tiers[0].Spec.DemotionGracePeriod = grace(0) // gold
			}),
			want: want{tier: "silver", qualified: "silver", decision: "gold -> silver: Demoted", next: at(89 * day)},
		},
		"evidence that recovers before the deadline cancels the demotion": {
			in: input(holding("gold"), withEvidence(goldEvidence()...), withDeadline(5*day),
				withCondition(v1alpha1.ConditionTierAtRisk, metav1.ConditionTrue, v1alpha1.ReasonGracePeriod, 5*day)),
			want: want{
				tier: "gold", qualified: "gold", next: at(29 * day),
				conditions: settled(nil),
				messages:   map[string][]string{v1alpha1.ConditionTierAtRisk: {"qualifies the partner for tier gold"}},
			},
		},
		"a removed tier is replaced at once by the qualified tier": {
			in: input(holding("diamond"), withEvidence(goldEvidence()...), withDeadline(5*day)),
			want: want{
				tier: "gold", qualified: "gold", decision: "diamond -> gold: TierRemoved", next: at(29 * day),
				conditions: settled(nil),
				check: func(t *testing.T, _ Input, r Result) {
					if got := evidenceOf(r.Decision); len(got) != 3 || r.Decision.TierGeneration != 3 {
						t.Errorf("decision evidence/tierGeneration = %v/%d, want gold's three metrics/3", got, r.Decision.TierGeneration)
					}
				},
			},
		},
		"a removed tier does not skip a promotion review": {
			in: input(holding("diamond"), withEvidence(platinumEvidence()...)),
			want: want{
				tier: "gold", qualified: "platinum", decision: "diamond -> gold: TierRemoved", next: at(29 * day), promotionRequest: "platinum",
			},
		},
		"a removed tier with nothing qualified leaves no tier": {
			in: input(holding("diamond"), withTiers(silver(), gold())),
			want: want{
				tier: "", qualified: "", decision: "diamond -> -: TierRemoved",
				entitlements: []string{},
				check: func(t *testing.T, _ Input, r Result) {
					if r.Status.TierRank != nil || r.Decision.Evidence != nil || r.Decision.TierGeneration != 0 {
						t.Errorf("tierRank/evidence/tierGeneration = %v/%v/%d, want none", r.Status.TierRank, r.Decision.Evidence, r.Decision.TierGeneration)
					}
				},
			},
		},

		// Rule 7: tier exceptions.
		"a tier exception lifts the partner to the granted tier": {
			in: input(holding("silver"), withEvidence(silverEvidence()...), withGrant(tierException("acme-gold", "gold", at(60*day)))),
			want: want{
				tier: "gold", qualified: "silver", decision: "silver -> gold: TierException (acme-gold)", next: at(60 * day),
				conditions: settled(nil),
				messages:   map[string][]string{v1alpha1.ConditionTierAtRisk: {"held by exception request acme-gold until 2026-11-30T12:00:00Z"}},
				grants:     []string{"acme-gold"},
			},
		},
		"a tier exception cancels a pending demotion": {
			in:   input(holding("gold"), withEvidence(silverEvidence()...), withDeadline(5*day), withGrant(tierException("acme-gold", "gold", at(60*day)))),
			want: want{tier: "gold", qualified: "silver", next: at(60 * day), conditions: settled(nil)},
		},
		"a tier exception expiring now is ignored": {
			in: input(holding("gold"), withEvidence(silverEvidence()...), withGrant(tierException("acme-gold", "gold", at(0)))),
			want: want{
				tier: "gold", qualified: "silver", deadline: at(9 * day), next: at(9 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionTierAtRisk: "True/GracePeriod"}),
				grants:     []string{},
			},
		},
		"a demotion above the exception floor still runs its grace period": {
			in: input(holding("platinum"), withEvidence(silverEvidence()...), withGrant(tierException("acme-gold", "gold", at(60*day)))),
			want: want{
				tier: "platinum", qualified: "silver", deadline: at(9 * day), next: at(9 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionTierAtRisk: "True/GracePeriod"}),
			},
		},
		"a demotion lands on the exception floor": {
			in: input(holding("platinum"), withEvidence(silverEvidence()...), withDeadline(-time.Hour),
				withGrant(tierException("acme-gold", "gold", at(60*day)))),
			want: want{
				tier: "gold", qualified: "silver", decision: "platinum -> gold: TierException (acme-gold)", next: at(60 * day),
				check: func(t *testing.T, _ Input, r Result) {
					if r.Decision.TierGeneration != 4 {
						t.Errorf("tierGeneration = %d, want the lost platinum's 4", r.Decision.TierGeneration)
					}
				},
			},
		},
		"the highest of several tier exceptions is the floor, the first request breaking ties": {
			in: input(withGrant(tierException("b-silver", "silver", nil)), withGrant(tierException("d-gold", "gold", nil)),
				withGrant(tierException("a-gold", "gold", nil)), withGrant(tierException("c-gone", "diamond", nil))),
			want: want{
				tier: "gold", qualified: "registered", decision: "- -> gold: TierException (a-gold)",
				grants: []string{"a-gold", "b-silver", "c-gone", "d-gold"},
			},
		},

		// Rule 8: entitlements and grants.
		"incentive exceptions add entitlements after the tier's, by request": {
			in: input(holding("silver"), withEvidence(silverEvidence()...),
				withGrant(incentive("b-cosell", at(20*day), v1alpha1.EntitlementCoSell)),
				withGrant(incentive("a-funds", at(40*day), v1alpha1.EntitlementFunds, v1alpha1.EntitlementClaimCertification)),
				withGrant(incentive("z-expired", at(-day), v1alpha1.EntitlementImplement)),
				withGrant(Grant{Request: "c-mdf", Type: v1alpha1.RequestFunds})),
			want: want{
				tier: "silver", qualified: "silver", next: at(20 * day),
				entitlements: []string{
					"Resell from Tier/silver", "List from Tier/silver",
					"Funds from ExceptionRequest/a-funds until 2026-11-10T12:00:00Z",
					"ClaimCertification from ExceptionRequest/a-funds until 2026-11-10T12:00:00Z",
					"CoSell from ExceptionRequest/b-cosell until 2026-10-21T12:00:00Z",
				},
				grants: []string{"a-funds", "b-cosell"},
			},
		},
		"a suspended partner keeps its tier but holds no entitlements": {
			in: input(holding("gold"), withEvidence(goldEvidence()...), suspended,
				withGrant(incentive("a-funds", at(40*day), v1alpha1.EntitlementFunds))),
			want: want{
				tier: "gold", qualified: "gold", next: at(29 * day),
				conditions:   settled(map[string]string{v1alpha1.ConditionReady: "True/PartnerSuspended"}),
				messages:     map[string][]string{v1alpha1.ConditionReady: {"suspended", "withdrawn"}},
				entitlements: []string{},
				grants:       []string{"a-funds"},
			},
		},

		// Rule 2: a missing program.
		"a missing program decides nothing new but still applies the running deadline": {
			in: input(holding("gold"), withEvidence(goldEvidence()...), withoutProgram, withDeadline(2*day),
				withCondition(v1alpha1.ConditionTierAtRisk, metav1.ConditionTrue, v1alpha1.ReasonGracePeriod, 8*day),
				withCondition(v1alpha1.ConditionEvidenceCurrent, metav1.ConditionTrue, v1alpha1.ReasonEvidenceFresh, 8*day),
				func(in *Input) { in.Partner.Status.QualifiedTier = "silver" }),
			want: want{
				tier: "gold", qualified: "silver", deadline: at(2 * day), next: at(2 * day),
				conditions: map[string]string{
					v1alpha1.ConditionReady:           "False/ProgramNotFound",
					v1alpha1.ConditionTierAtRisk:      "True/GracePeriod",
					v1alpha1.ConditionEvidenceCurrent: "True/EvidenceFresh",
				},
				messages: map[string][]string{v1alpha1.ConditionReady: {`program "partners" does not exist`},
					v1alpha1.ConditionEvidenceCurrent: {"stored"}},
				entitlements: []string{
					"Resell from Tier/gold", "Implement from Tier/gold", "List from Tier/gold",
					"CoSell[enterprise,mid-market] from Tier/gold", "Funds cap 50000 USD from Tier/gold",
				},
			},
		},
		"history keeps the newest MaxHistory decisions": {
			in: input(func(in *Input) {
				for i := range v1alpha1.MaxHistory {
					in.Partner.Status.History = append(in.Partner.Status.History,
						v1alpha1.TierDecision{Time: metav1.NewTime(now.Add(-time.Duration(100-i) * day)), Reason: "Old", Message: fmt.Sprint(i)})
				}
			}),
			want: want{
				tier: "registered", qualified: "registered", decision: "- -> registered: Promoted",
				check: func(t *testing.T, _ Input, r Result) {
					h := r.Status.History
					if len(h) != v1alpha1.MaxHistory || h[0].Message != "1" {
						t.Errorf("history has %d entries starting with %q, want %d starting with the second oldest", len(h), h[0].Message, v1alpha1.MaxHistory)
					}
				},
			},
		},

		// Rule 11: the next deadline.
		"the next deadline is the first counted evidence to go stale": {
			in: input(holding("gold"), withEvidence(entry(revenue, "600000"), entry(wins, "6"),
				observedAgo(entry(escalate, "0"), 30*day-time.Hour), observedAgo(entry(engineers, "3"), 400*day))),
			want: want{
				tier: "gold", qualified: "gold", next: at(time.Hour),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceCurrent: "False/EvidenceStale"}),
			},
		},
		"the next deadline can be a grant's expiry": {
			in:   input(holding("registered"), withGrant(incentive("a-list", at(2*time.Hour), v1alpha1.EntitlementList))),
			want: want{tier: "registered", qualified: "registered", next: at(2 * time.Hour)},
		},

		// Rule 2: transition times.
		"conditions keep their transition time unless their status changes": {
			in: input(holding("gold"), withEvidence(goldEvidence()...),
				withCondition(v1alpha1.ConditionEvidenceCurrent, metav1.ConditionTrue, v1alpha1.ReasonEvidenceFresh, 50*day),
				withCondition(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonProgramNotFound, 50*day)),
			want: want{
				tier: "gold", qualified: "gold", next: at(29 * day), conditions: settled(nil),
				check: func(t *testing.T, _ Input, r Result) {
					for _, c := range r.Status.Conditions {
						wantSince := now
						if c.Type == v1alpha1.ConditionEvidenceCurrent {
							wantSince = now.Add(-50 * day)
						}
						if !c.LastTransitionTime.Time.Equal(wantSince) || c.ObservedGeneration != partnerGeneration {
							t.Errorf("%s: lastTransitionTime %v generation %d, want %v and %d",
								c.Type, c.LastTransitionTime, c.ObservedGeneration, wantSince, partnerGeneration)
						}
					}
				},
			},
		},
	}
}

func TestEvaluate(t *testing.T) {
	for name, tc := range scenarios() {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(tc.in)
			assertResult(t, tc.in, tc.want, r)
			if tc.want.check != nil {
				tc.want.check(t, tc.in, r)
			}
		})
	}
}

func assertResult(t *testing.T, in Input, w want, r Result) {
	t.Helper()
	s := r.Status
	if s.Tier != w.tier || s.QualifiedTier != w.qualified {
		t.Errorf("tier/qualified = %q/%q, want %q/%q", s.Tier, s.QualifiedTier, w.tier, w.qualified)
	}
	if got := describeDecision(r.Decision); got != w.decision {
		t.Errorf("decision = %q, want %q", got, w.decision)
	}
	if got := timeOf(s.DemotionDeadline); !equalTime(got, w.deadline) {
		t.Errorf("demotionDeadline = %v, want %v", got, w.deadline)
	}
	if !equalTime(r.NextDeadline, w.next) {
		t.Errorf("nextDeadline = %v, want %v", r.NextDeadline, w.next)
	}
	if r.PromotionRequest != w.promotionRequest {
		t.Errorf("promotionRequest = %q, want %q", r.PromotionRequest, w.promotionRequest)
	}
	if s.ObservedGeneration != partnerGeneration {
		t.Errorf("observedGeneration = %d, want %d", s.ObservedGeneration, partnerGeneration)
	}
	assertConditions(t, s.Conditions, w)
	if w.entitlements != nil {
		var got []string
		for _, e := range s.Entitlements {
			got = append(got, describeEntitlement(e))
		}
		if !slices.Equal(got, w.entitlements) {
			t.Errorf("entitlements =\n  %q\nwant\n  %q", got, w.entitlements)
		}
	}
	if w.grants != nil {
		var got []string
		for _, g := range s.Grants {
			got = append(got, g.Request)
		}
		if !slices.Equal(got, w.grants) {
			t.Errorf("grants = %q, want %q", got, w.grants)
		}
	}
	assertDecisionRecorded(t, in, r)
}

func assertConditions(t *testing.T, conds []metav1.Condition, w want) {
	t.Helper()
	for typ, wantState := range w.conditions {
		c := findCondition(conds, typ)
		if c == nil {
			t.Errorf("condition %s missing, want %s", typ, wantState)
			continue
		}
		if got := string(c.Status) + "/" + c.Reason; got != wantState {
			t.Errorf("condition %s = %s (%q), want %s", typ, got, c.Message, wantState)
		}
	}
	for typ, fragments := range w.messages {
		c := findCondition(conds, typ)
		for _, f := range fragments {
			if c == nil || !strings.Contains(c.Message, f) {
				t.Errorf("condition %s message = %q, want it to contain %q", typ, messageOf(c), f)
			}
		}
	}
}

// assertDecisionRecorded checks rule 9's bookkeeping: a decision is the newest history
// entry and starts the tier's tenure; no decision leaves history and tenure alone.
func assertDecisionRecorded(t *testing.T, in Input, r Result) {
	t.Helper()
	stored, s := in.Partner.Status, r.Status
	if r.Decision == nil {
		if !equality.Semantic.DeepEqual(stored.History, s.History) || !equality.Semantic.DeepEqual(stored.TierSince, s.TierSince) {
			t.Errorf("history or tierSince changed without a decision")
		}
		return
	}
	if n := len(s.History); n == 0 || !equality.Semantic.DeepEqual(s.History[n-1], *r.Decision) {
		t.Errorf("decision is not the newest history entry")
	}
	if s.TierSince == nil || !s.TierSince.Time.Equal(now) || r.Decision.From != stored.Tier || r.Decision.To != s.Tier {
		t.Errorf("tierSince/from/to = %v/%q/%q, want %v/%q/%q", s.TierSince, r.Decision.From, r.Decision.To, now, stored.Tier, s.Tier)
	}
	if r.Decision.Reason == "" || r.Decision.Message == "" {
		t.Errorf("decision lacks a reason or message: %+v", r.Decision)
	}
}

func TestEvaluateDoesNotModifyItsInput(t *testing.T) {
	for name, tc := range scenarios() {
		t.Run(name, func(t *testing.T) {
			before := snapshot(tc.in)
			r := Evaluate(tc.in)
			if !reflect.DeepEqual(before, tc.in) {
				t.Fatalf("Evaluate modified its input")
			}
			// Nor may the result share memory with the input.
			scribble(&r.Status)
			if !reflect.DeepEqual(before, tc.in) {
				t.Fatalf("the result shares memory with the input")
			}
		})
	}
}

// scribble overwrites every element of a status in place.
func scribble(s *v1alpha1.PartnerStatus) {
	for i := range s.Evidence {
		s.Evidence[i].Value = "-1"
		s.Evidence[i].ObservedAt.Time = time.Time{}
	}
	for i := range s.Conditions {
		s.Conditions[i].Message = "scribbled"
	}
	for i := range s.History {
		s.History[i].Reason = "Scribbled"
	}
	for i := range s.Entitlements {
		s.Entitlements[i].Source.Name = "scribbled"
		if s.Entitlements[i].Cap != nil {
			s.Entitlements[i].Cap.Amount = "0"
		}
		for j := range s.Entitlements[i].Segments {
			s.Entitlements[i].Segments[j] = "scribbled"
		}
		if s.Entitlements[i].Expires != nil {
			s.Entitlements[i].Expires.Time = time.Time{}
		}
	}
	for _, t := range []*metav1.Time{s.TierSince, s.DemotionDeadline} {
		if t != nil {
			t.Time = time.Time{}
		}
	}
}

// Rule 10, for every scenario: storing the result and evaluating again changes
// nothing, now and at any time before NextDeadline, and something changes at it.
func TestReconcilingASettledPartnerChangesNothing(t *testing.T) {
	for name, tc := range scenarios() {
		t.Run(name, func(t *testing.T) {
			first := Evaluate(tc.in)
			again := func(when time.Time) Result {
				in := snapshot(tc.in)
				in.Now = when
				in.Partner.Status = *first.Status.DeepCopy()
				return Evaluate(in)
			}
			for _, when := range []time.Time{now, justBefore(first.NextDeadline)} {
				second := again(when)
				if !equality.Semantic.DeepEqual(first.Status, second.Status) {
					t.Errorf("at %v the status changed:\nfirst  %+v\nsecond %+v", when, first.Status, second.Status)
				}
				if second.Decision != nil || second.PromotionRequest != first.PromotionRequest {
					t.Errorf("at %v: decision %q, promotionRequest %q; want none, %q",
						when, describeDecision(second.Decision), second.PromotionRequest, first.PromotionRequest)
				}
			}
			if first.NextDeadline != nil {
				if at := again(*first.NextDeadline); equality.Semantic.DeepEqual(first.Status, at.Status) {
					t.Errorf("nothing changed at the next deadline %v", first.NextDeadline)
				}
			}
		})
	}
}

func justBefore(t *time.Time) time.Time {
	if t == nil {
		return now.Add(1000 * day)
	}
	return t.Add(-time.Second)
}

func TestOperatorsCompareExactly(t *testing.T) {
	tests := map[string]struct {
		op               v1alpha1.ComparisonOperator
		value, threshold v1alpha1.Decimal
		qualifies        bool
	}{
		"at least: equal":                    {v1alpha1.OperatorGreaterThanOrEqual, "100", "100", true},
		"at least: a billionth below":        {v1alpha1.OperatorGreaterThanOrEqual, "99.999999999", "100", false},
		"more than: equal":                   {v1alpha1.OperatorGreaterThan, "100", "100", false},
		"more than: a billionth above":       {v1alpha1.OperatorGreaterThan, "100.000000001", "100", true},
		"more than: where float64 rounds":    {v1alpha1.OperatorGreaterThan, "0.300000001", "0.3", true},
		"at most: equal":                     {v1alpha1.OperatorLessThanOrEqual, "2", "2", true},
		"at most: above":                     {v1alpha1.OperatorLessThanOrEqual, "2.5", "2", false},
		"less than: equal":                   {v1alpha1.OperatorLessThan, "2", "2", false},
		"less than: negative below":          {v1alpha1.OperatorLessThan, "-1", "0", true},
		"equal: trailing zeros are the same": {v1alpha1.OperatorEqual, "100.0", "100", true},
		"equal: different":                   {v1alpha1.OperatorEqual, "100.1", "100", false},
		"an unknown operator is never met":   {"Between", "100", "100", false},
		"a threshold that is not a number":   {v1alpha1.OperatorGreaterThanOrEqual, "100", "many", false},
		"missing evidence is never met":      {v1alpha1.OperatorLessThan, "", "1", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Rank 0: an operator alone is under test, not the Outcome rule of higher ranks.
			only := tierNamed("only", 0, 1, req(revenue, tc.op, tc.threshold))
			in := input(withTiers(only))
			if tc.value != "" {
				in = input(withTiers(only), withEvidence(entry(revenue, tc.value)))
			}
			got := Evaluate(in).Status.QualifiedTier == "only"
			if got != tc.qualifies {
				t.Errorf("qualifies = %v, want %v", got, tc.qualifies)
			}
		})
	}
}

func TestEvaluateIgnoresTierOrder(t *testing.T) {
	base := input(withEvidence(platinumEvidence()...), withGrant(tierPromotion("p", "platinum", nil)))
	want := Evaluate(base)
	for i := range len(base.Tiers) {
		in := snapshot(base)
		in.Tiers = slices.Concat(in.Tiers[i:], in.Tiers[:i])
		got := Evaluate(in)
		if !equality.Semantic.DeepEqual(want.Status, got.Status) || !equality.Semantic.DeepEqual(want.Decision, got.Decision) ||
			!equalTime(want.NextDeadline, got.NextDeadline) || want.PromotionRequest != got.PromotionRequest {
			t.Errorf("rotation %d changed the result", i)
		}
	}
}

func TestEvaluateWithoutPartner(t *testing.T) {
	if got := Evaluate(Input{Now: now, Program: program()}); !reflect.DeepEqual(got, Result{}) {
		t.Errorf("Evaluate without a partner = %+v, want the zero Result", got)
	}
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func messageOf(c *metav1.Condition) string {
	if c == nil {
		return "<missing>"
	}
	return c.Message
}

func evidenceOf(d *v1alpha1.TierDecision) []string {
	var out []string
	for _, e := range d.Evidence {
		out = append(out, e.Metric+"="+string(e.Value))
	}
	return out
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	return &t.Time
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

package tier

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Decision integrity: no partner gets or keeps a tier that no decision gave it.

func storedGrant(g v1alpha1.ActiveGrant) option {
	return func(in *Input) { in.Partner.Status.Grants = append(in.Partner.Status.Grants, g) }
}

// enteredBy records that the partner got tier with a decision of reason.
func enteredBy(tier, reason string) option {
	return func(in *Input) {
		in.Partner.Status.History = append(in.Partner.Status.History, v1alpha1.TierDecision{
			Time: metav1.NewTime(now.Add(-100 * day)), To: tier, Reason: reason})
	}
}

func withPromotion(p Promotion) option {
	return func(in *Input) { in.Promotions = append(in.Promotions, p) }
}

// raised sets t's revenue threshold, as recorded by its controller at now+since.
func raised(t v1alpha1.PartnerTier, threshold v1alpha1.Decimal, since time.Duration) v1alpha1.PartnerTier {
	for i := range t.Spec.Requirements {
		if t.Spec.Requirements[i].Metric == revenue {
			t.Spec.Requirements[i].Threshold = threshold
		}
	}
	t.Status.RequirementsSince = mt(since)
	return t
}

func retired(t v1alpha1.PartnerTier) v1alpha1.PartnerTier { t.Spec.Retired = true; return t }

func mt(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(d)); return &t }

// platinumDigest is the digest of platinumEvidence() for platinum's requirements,
// as the engine computes it.
func platinumDigest(t *testing.T) string {
	t.Helper()
	r := Evaluate(input(holding("gold"), withEvidence(platinumEvidence()...)))
	if r.Promotion == nil || r.Promotion.Evidence == "" {
		t.Fatalf("a partner qualifying for platinum gets no promotion to open: %+v", r.Promotion)
	}
	return r.Promotion.Evidence
}

func integrityScenarios(t *testing.T) map[string]scenario {
	deniedYesterday := func(evidence string) option {
		return withPromotion(Promotion{Request: "acme-promote-platinum", Tier: "platinum", Phase: v1alpha1.PhaseDenied,
			DeniedAt: at(-day), Evidence: evidence})
	}
	digest := platinumDigest(t)
	goldEntitlements := []string{
		"Resell from Tier/gold", "Implement from Tier/gold", "List from Tier/gold",
		"CoSell[enterprise,mid-market] from Tier/gold", "Funds cap 50000 USD from Tier/gold",
	}
	return map[string]scenario{
		// Item 3: a promotion approval is used once.
		"a promotion marks the approval it used as applied": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...), withGrant(tierPromotion("acme-promote-platinum", "platinum", at(300*day)))),
			want: want{
				tier: "platinum", qualified: "platinum", decision: "gold -> platinum: Promoted (acme-promote-platinum)", next: at(29 * day),
				check: func(t *testing.T, _ Input, r Result) {
					if g := r.Status.Grants; len(g) != 1 || g[0].AppliedAt == nil || !g[0].AppliedAt.Time.Equal(now) || g[0].SpentAt != nil {
						t.Errorf("grants = %+v, want acme-promote-platinum applied now and not spent", g)
					}
				},
			},
		},
		"dropping below the promoted tier spends the approval": {
			in: input(holding("platinum"), withEvidence(goldEvidence()...), withDeadline(-time.Hour),
				withGrant(tierPromotion("acme-promote-platinum", "platinum", at(300*day))),
				storedGrant(v1alpha1.ActiveGrant{Request: "acme-promote-platinum", Type: v1alpha1.RequestTierPromotion, Tier: "platinum", AppliedAt: mt(-50 * day)})),
			want: want{
				tier: "gold", qualified: "gold", decision: "platinum -> gold: Demoted", next: at(29 * day),
				check: func(t *testing.T, _ Input, r Result) {
					if g := r.Status.Grants; len(g) != 1 || g[0].SpentAt == nil || !g[0].SpentAt.Time.Equal(now) {
						t.Errorf("grants = %+v, want acme-promote-platinum spent now", g)
					}
				},
			},
		},
		"a spent approval does not promote again; a new request is opened under a new name": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...),
				withGrant(tierPromotion("acme-promote-platinum", "platinum", at(300*day))),
				storedGrant(v1alpha1.ActiveGrant{Request: "acme-promote-platinum", Type: v1alpha1.RequestTierPromotion, Tier: "platinum",
					AppliedAt: mt(-100 * day), SpentAt: mt(-10 * day)}),
				withPromotion(Promotion{Request: "acme-promote-platinum", Tier: "platinum", Phase: v1alpha1.PhaseApproved})),
			want: want{
				tier: "gold", qualified: "platinum", next: at(29 * day), promotionRequest: "platinum",
				conditions: settled(map[string]string{v1alpha1.ConditionPromotionPending: "True/AwaitingReview"}),
				messages:   map[string][]string{v1alpha1.ConditionPromotionPending: {PromotionName("acme", "platinum", 2)}},
				check: func(t *testing.T, _ Input, r Result) {
					if r.Promotion == nil || r.Promotion.Name != PromotionName("acme", "platinum", 2) {
						t.Errorf("promotion to open = %+v, want acme-promote-platinum-2", r.Promotion)
					}
				},
			},
		},

		// Item 4: a denied promotion is not pending forever, and not asked in a loop.
		"an open promotion request is not opened twice": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...),
				withPromotion(Promotion{Request: "acme-promote-platinum", Tier: "platinum", Phase: v1alpha1.PhasePending, Evidence: digest})),
			want: want{
				tier: "gold", qualified: "platinum", next: at(29 * day), promotionRequest: "platinum",
				messages: map[string][]string{v1alpha1.ConditionPromotionPending: {"request acme-promote-platinum under"}},
				check: func(t *testing.T, _ Input, r Result) {
					if r.Promotion != nil {
						t.Errorf("promotion to open = %+v, want none while one is under review", r.Promotion)
					}
				},
			},
		},
		"a denied promotion waits for promotionRetryAfter on the same evidence": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...), deniedYesterday(digest)),
			want: want{
				tier: "gold", qualified: "platinum", next: at(29 * day), promotionRequest: "platinum",
				conditions: settled(map[string]string{v1alpha1.ConditionPromotionPending: "True/PromotionDenied"}),
				messages:   map[string][]string{v1alpha1.ConditionPromotionPending: {"acme-promote-platinum was denied", "2026-10-30T12:00:00Z"}},
				check: func(t *testing.T, _ Input, r Result) {
					if r.Promotion != nil {
						t.Errorf("promotion to open = %+v, want none within the retry period", r.Promotion)
					}
				},
			},
		},
		"a denied promotion's retry instant is the next deadline when it comes first": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...), deniedYesterday(digest), withTiers(func() []v1alpha1.PartnerTier {
				p := platinum()
				p.Spec.PromotionRetryAfter = &metav1.Duration{Duration: 2 * day}
				return []v1alpha1.PartnerTier{registered(), silver(), gold(), p}
			}()...)),
			want: want{tier: "gold", qualified: "platinum", next: at(day), promotionRequest: "platinum"},
		},
		"a denied promotion is asked again once the qualifying evidence changes": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...), deniedYesterday("another-digest")),
			want: want{
				tier: "gold", qualified: "platinum", next: at(29 * day), promotionRequest: "platinum",
				check: func(t *testing.T, _ Input, r Result) {
					if r.Promotion == nil || r.Promotion.Name != PromotionName("acme", "platinum", 2) || r.Promotion.Evidence != digest {
						t.Errorf("promotion to open = %+v, want acme-promote-platinum-2 on the new evidence", r.Promotion)
					}
				},
			},
		},
		"a denied promotion is asked again after promotionRetryAfter": {
			in: input(holding("gold"), withEvidence(platinumEvidence()...),
				withPromotion(Promotion{Request: "acme-promote-platinum", Tier: "platinum", Phase: v1alpha1.PhaseDenied, DeniedAt: at(-31 * day), Evidence: digest})),
			want: want{
				tier: "gold", qualified: "platinum", next: at(29 * day), promotionRequest: "platinum",
				check: func(t *testing.T, _ Input, r Result) {
					if r.Promotion == nil || r.Promotion.Name != PromotionName("acme", "platinum", 2) {
						t.Errorf("promotion to open = %+v, want acme-promote-platinum-2", r.Promotion)
					}
				},
			},
		},

		// Item 5: a TierException ends at its expiry.
		"a lapsed tier exception drops the partner at once to what its evidence gives": {
			in: input(holding("gold"), withEvidence(silverEvidence()...), withGrant(tierException("acme-gold", "gold", at(0))), enteredBy("gold", v1alpha1.ReasonTierException),
				storedGrant(v1alpha1.ActiveGrant{Request: "acme-gold", Type: v1alpha1.RequestTierException, Tier: "gold", Expires: mt(0)})),
			want: want{
				tier: "silver", qualified: "silver", decision: "gold -> silver: ExceptionExpired (acme-gold)", next: at(89 * day),
				grants: []string{},
			},
		},
		"a tier exception whose request is gone drops the partner at once": {
			in: input(holding("gold"), withEvidence(silverEvidence()...), enteredBy("gold", v1alpha1.ReasonTierException),
				storedGrant(v1alpha1.ActiveGrant{Request: "acme-gold", Type: v1alpha1.RequestTierException, Tier: "gold", Expires: mt(time.Hour)})),
			want: want{tier: "silver", qualified: "silver", decision: "gold -> silver: ExceptionExpired (acme-gold)", next: at(89 * day)},
		},
		"an exception held over a tier earned by evidence leaves its grace period when it lapses": {
			in: input(holding("gold"), withEvidence(silverEvidence()...), enteredBy("gold", v1alpha1.ReasonPromoted),
				storedGrant(v1alpha1.ActiveGrant{Request: "acme-gold", Type: v1alpha1.RequestTierException, Tier: "gold", Expires: mt(0)})),
			want: want{tier: "gold", qualified: "silver", deadline: at(9 * day), next: at(9 * day)},
		},
		"a lapsed exception for a tier the evidence supports changes nothing": {
			in: input(holding("gold"), withEvidence(goldEvidence()...),
				storedGrant(v1alpha1.ActiveGrant{Request: "acme-gold", Type: v1alpha1.RequestTierException, Tier: "gold", Expires: mt(0)})),
			want: want{tier: "gold", qualified: "gold", next: at(29 * day), grants: []string{}},
		},

		// Item 6: grace counts from when the evidence failed.
		"grace counts from when the evidence went stale, not from when it was noticed": {
			in: input(holding("gold"), withEvidence(entry(revenue, "600000"), entry(wins, "6"), observedAgo(entry(escalate, "0"), 35*day), entry(engineers, "3"))),
			want: want{
				tier: "gold", qualified: "silver", deadline: at(5 * day), next: at(5 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionTierAtRisk: "True/GracePeriod", v1alpha1.ConditionEvidenceCurrent: "False/EvidenceStale"}),
			},
		},
		"a controller that was down past the deadline demotes at once": {
			in: input(holding("gold"), withEvidence(entry(revenue, "600000"), entry(wins, "6"), observedAgo(entry(escalate, "0"), 45*day), entry(engineers, "3"))),
			want: want{
				tier: "silver", qualified: "silver", decision: "gold -> silver: Demoted", next: at(89 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionEvidenceCurrent: "False/EvidenceStale"}),
			},
		},
		"a stored deadline earlier than the evidence gives is kept": {
			in:   input(holding("gold"), withEvidence(silverEvidence()...), withDeadline(2*day)),
			want: want{tier: "gold", qualified: "silver", deadline: at(2 * day), next: at(2 * day)},
		},
		"grace never starts before the tier was granted": {
			in: input(holding("gold"), withEvidence(observedAgo(entry(revenue, "150000"), 200*day+time.Hour), observedAgo(entry(engineers, "3"), day)),
				func(in *Input) {
					since := metav1.NewTime(now.Add(-5 * day))
					in.Partner.Status.TierSince = &since
				}),
			want: want{tier: "gold", qualified: "registered", deadline: at(5 * day), next: at(5 * day)},
		},

		"a raised threshold fails the evidence from the change, not from when the value was observed": {
			in: input(holding("gold"), withEvidence(observedAgo(entry(revenue, "600000"), 20*day), entry(wins, "6"), entry(escalate, "1"), entry(engineers, "3")),
				withTiers(registered(), silver(), raised(gold(), "700000", -day), platinum())),
			want: want{tier: "gold", qualified: "silver", deadline: at(9 * day), next: at(9 * day)},
		},
		"a tier change its controller has not recorded yet gives the full grace from now": {
			in: input(holding("gold"), withEvidence(observedAgo(entry(revenue, "600000"), 20*day), entry(wins, "6"), entry(escalate, "1"), entry(engineers, "3")),
				withTiers(registered(), silver(), func() v1alpha1.PartnerTier { g := raised(gold(), "700000", -day); g.Generation++; return g }(), platinum())),
			want: want{tier: "gold", qualified: "silver", deadline: at(10 * day), next: at(10 * day)},
		},

		// Item 7: suspension wins over every exception.
		"a suspended partner holds no entitlement, whatever exceptions it holds": {
			in: input(holding("gold"), withEvidence(goldEvidence()...), suspended,
				withGrant(incentive("acme-cosell", at(10*day), v1alpha1.EntitlementImplement)),
				withGrant(tierException("acme-plat", "platinum", at(10*day)))),
			want: want{
				tier: "platinum", qualified: "gold", decision: "gold -> platinum: TierException (acme-plat)", next: at(10 * day),
				entitlements: []string{},
			},
		},

		// Item 8: a retired tier is drained; a missing program freezes nobody.
		"nobody new qualifies for a retired tier": {
			in:   input(holding("silver"), withEvidence(goldEvidence()...), withTiers(registered(), silver(), retired(gold()), platinum())),
			want: want{tier: "silver", qualified: "silver", next: at(29 * day)},
		},
		"holders of a retired tier keep it for its grace period": {
			in: input(holding("gold"), withEvidence(goldEvidence()...), withTiers(registered(), silver(), retired(gold()), platinum())),
			want: want{
				tier: "gold", qualified: "silver", deadline: at(10 * day), next: at(10 * day), entitlements: goldEntitlements,
			},
		},
		"a missing program still demotes at a deadline that passed": {
			in: input(holding("gold"), withoutProgram, withDeadline(-time.Hour), func(in *Input) { in.Partner.Status.QualifiedTier = "silver" }),
			want: want{
				tier: "silver", qualified: "silver", decision: "gold -> silver: Demoted",
				conditions: map[string]string{v1alpha1.ConditionReady: "False/ProgramNotFound"},
			},
		},
		"a missing program still expires grants": {
			in: input(holding("silver"), withoutProgram, func(in *Input) { in.Partner.Status.QualifiedTier = "silver" },
				withGrant(incentive("acme-impl", at(0), v1alpha1.EntitlementImplement)),
				withGrant(tierException("acme-gold", "gold", at(0))),
				storedGrant(v1alpha1.ActiveGrant{Request: "acme-gold", Type: v1alpha1.RequestTierException, Tier: "gold", Expires: mt(0)})),
			want: want{
				tier: "silver", qualified: "silver", entitlements: []string{"Resell from Tier/silver", "List from Tier/silver"}, grants: []string{},
			},
		},
		"a missing program starts no new grace period": {
			in:   input(holding("gold"), withoutProgram, func(in *Input) { in.Partner.Status.QualifiedTier = "silver" }),
			want: want{tier: "gold", qualified: "silver"},
		},
	}
}

func TestDecisionIntegrity(t *testing.T) {
	runSettling(t, integrityScenarios(t))
}

// runSettling evaluates each scenario, checks its result, and checks that the
// result, stored and evaluated again, decides nothing more.
func runSettling(t *testing.T, scenarios map[string]scenario) {
	for name, tc := range scenarios {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(tc.in)
			assertResult(t, tc.in, tc.want, r)
			if tc.want.check != nil {
				tc.want.check(t, tc.in, r)
			}
			// A settled result evaluated again decides nothing more.
			again := tc.in
			again.Partner = tc.in.Partner.DeepCopy()
			again.Partner.Status = r.Status
			if r2 := Evaluate(again); r2.Decision != nil {
				t.Errorf("evaluating the result again decided %s", describeDecision(r2.Decision))
			}
		})
	}
}

// Item 10: no status list grows past its bound, whatever the number of grants.
func TestStatusListsStayWithinTheirBounds(t *testing.T) {
	all := []v1alpha1.EntitlementName{v1alpha1.EntitlementResell, v1alpha1.EntitlementImplement, v1alpha1.EntitlementList, v1alpha1.EntitlementClaimCertification}
	opts := []option{holding("gold"), withEvidence(goldEvidence()...),
		withGrant(tierPromotion("zz-promote", "platinum", at(300*day))),
		withGrant(tierException("zz-hold", "silver", at(300*day)))}
	for i := range maxGrants + 6 {
		opts = append(opts, withGrant(incentive(fmt.Sprintf("inc-%03d", i), at(time.Duration(i+1)*day), all...)))
	}
	r := Evaluate(input(opts...))
	if n := len(r.Status.Grants); n != maxGrants {
		t.Errorf("%d grants listed, want the bound %d", n, maxGrants)
	}
	for _, keep := range []string{"zz-promote", "zz-hold"} {
		if !slices.ContainsFunc(r.Status.Grants, func(g v1alpha1.ActiveGrant) bool { return g.Request == keep }) {
			t.Errorf("grant %s, which carries state, was left off the bounded list", keep)
		}
	}
	seen := map[v1alpha1.EntitlementName]v1alpha1.EffectiveEntitlement{}
	for _, e := range r.Status.Entitlements {
		if _, dup := seen[e.Name]; dup {
			t.Errorf("entitlement %s listed twice", e.Name)
		}
		seen[e.Name] = e
	}
	// ClaimCertification is not gold's: the grant in force longest gives it.
	if c := seen[v1alpha1.EntitlementClaimCertification]; c.Source.Name != fmt.Sprintf("inc-%03d", maxGrants+5) {
		t.Errorf("ClaimCertification from %s, want the longest-lasting grant inc-%03d", c.Source.Name, maxGrants+5)
	}
	if c := seen[v1alpha1.EntitlementResell]; c.Source.Kind != v1alpha1.EntitlementSourceTier {
		t.Errorf("Resell from %+v, want the tier's (it does not lapse)", c.Source)
	}
}

func TestPromotionRequestNamesNeverCollide(t *testing.T) {
	names := map[string]string{}
	for _, tier := range []string{"gold", "gold-2", "gold-2-x", "platinum"} {
		for n := 1; n <= 3; n++ {
			name := PromotionName("acme", tier, n)
			if other, dup := names[name]; dup {
				t.Errorf("%s (request %d to %s) is also %s", name, n, tier, other)
			}
			names[name] = fmt.Sprintf("request %d to %s", n, tier)
		}
	}
}

package scorecard

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func ptr[T any](v T) *T { return &v }

func def(name string, class v1alpha1.MetricClass, unit string, fresh time.Duration, user string) v1alpha1.MetricDefinition {
	return v1alpha1.MetricDefinition{Name: name, Class: class, Unit: unit,
		FreshnessWindow:  metav1.Duration{Duration: fresh},
		TrustedReporters: v1alpha1.Identities{Users: []string{user}}}
}

func program() *v1alpha1.PartnerProgram {
	return &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "global"},
		Spec: v1alpha1.PartnerProgramSpec{Owner: "owner", Metrics: []v1alpha1.MetricDefinition{
			def("training", v1alpha1.MetricClassEnablement, "count", 365*day, "lms"),
			def("revenue", v1alpha1.MetricClassOutcome, "USD", 90*day, "crm"),
			def("csat", v1alpha1.MetricClassOutcome, "score", 30*day, "survey"),
		}},
	}
}

const (
	sum    = v1alpha1.MetricAggregationSum
	avg    = v1alpha1.MetricAggregationAverage
	maxAgg = v1alpha1.MetricAggregationMax
	latest = v1alpha1.MetricAggregationLatest
)

// aggregating is program() with more Outcome metrics: nps (unit "percent",
// averaged by default), deals (unit "count", declared Max), pipeline (unit "USD",
// declared Latest) and csat (unit "score") declared Sum.
func aggregating() *v1alpha1.PartnerProgram {
	p := program()
	p.Spec.Metrics[2].Aggregation = sum
	nps := def("nps", v1alpha1.MetricClassOutcome, "percent", 30*day, "survey")
	deals := def("deals", v1alpha1.MetricClassOutcome, "count", 90*day, "crm")
	deals.Aggregation = maxAgg
	pipeline := def("pipeline", v1alpha1.MetricClassOutcome, "USD", 90*day, "crm")
	pipeline.Aggregation = latest
	p.Spec.Metrics = append(p.Spec.Metrics, nps, deals, pipeline)
	return p
}

func req(metric, threshold string) v1alpha1.TierRequirement {
	return v1alpha1.TierRequirement{Metric: metric, Operator: v1alpha1.OperatorGreaterThanOrEqual, Threshold: v1alpha1.Decimal(threshold)}
}

func tierOf(program, name string, rank int32, reqs ...v1alpha1.TierRequirement) v1alpha1.PartnerTier {
	return v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.PartnerTierSpec{Program: program, Rank: rank, Requirements: reqs}}
}

func tiers() []v1alpha1.PartnerTier {
	return []v1alpha1.PartnerTier{
		tierOf("global", "registered", 0),
		tierOf("global", "select", 1, req("revenue", "100"), req("training", "5")),
		tierOf("global", "premier", 2, req("revenue", "1000"), req("csat", "4")),
		tierOf("other", "gold", 1, req("revenue", "1")),
	}
}

func ev(metric, value, via string, age time.Duration) v1alpha1.EvidenceEntry {
	return v1alpha1.EvidenceEntry{Metric: metric, Value: v1alpha1.Decimal(value), ObservedAt: ago(age), TrustedVia: via}
}

func partner(ns, name, program string, typ v1alpha1.PartnerType, tierName string, rank int32, evidence ...v1alpha1.EvidenceEntry) v1alpha1.Partner {
	p := v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:   v1alpha1.PartnerSpec{Program: program, Type: typ, Owner: "o"},
		Status: v1alpha1.PartnerStatus{Tier: tierName, Evidence: evidence}}
	if tierName != "" {
		p.Status.TierRank = ptr(rank)
	}
	return p
}

func cond(typ string, status metav1.ConditionStatus, reason string, age time.Duration) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, LastTransitionTime: ago(age)}
}

func request(ns, name, partner string, typ v1alpha1.RequestType, phase v1alpha1.RequestPhase) v1alpha1.ExceptionRequest {
	return v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:   v1alpha1.ExceptionRequestSpec{Partner: partner, Type: typ},
		Status: v1alpha1.ExceptionRequestStatus{Phase: phase}}
}

func decided(age time.Duration) v1alpha1.ReviewDecision {
	t := ago(age)
	return v1alpha1.ReviewDecision{Stage: "s", Decision: v1alpha1.DecisionApprove, Rationale: "r", Time: &t}
}

func listingOf(ns, name, partner string, conds ...metav1.Condition) v1alpha1.Listing {
	return v1alpha1.Listing{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ListingSpec{Partner: partner}, Status: v1alpha1.ListingStatus{Conditions: conds}}
}

type fixture struct {
	partners []v1alpha1.Partner
	requests []v1alpha1.ExceptionRequest
	listings []v1alpha1.Listing
}

// handCounted is the fixture whose figures are counted by hand in the comments.
func handCounted() fixture {
	var f fixture
	f.partners = []v1alpha1.Partner{
		// a: select, fresh trusted revenue 150 meets revenue >= 100: outcome-backed.
		partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "select", 1,
			ev("revenue", "150", "user:crm", day), ev("training", "7", "user:lms", day)),
		// b: premier, revenue 2000 and csat 4.5 current: outcome-backed.
		partner("p", "b", "global", v1alpha1.PartnerTypeISV, "premier", 2,
			ev("revenue", "2000", "user:crm", 10*day), ev("csat", "4.5", "user:survey", 29*day)),
		// c: select in its grace period, revenue stale (100d > 90d): not backed, not summed.
		partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "select", 1, ev("revenue", "500", "user:crm", 100*day)),
		// d: select through a TierException, no evidence: not backed.
		partner("p", "d", "global", v1alpha1.PartnerTypeReseller, "select", 1),
		// e: untiered ("None"), fresh revenue 50 is summed.
		partner("p", "e", "global", v1alpha1.PartnerTypeMSP, "", 0, ev("revenue", "50", "user:crm", day)),
		// f: rank 0, not in the denominator; revenue from an untrusted rule is ignored.
		partner("q", "f", "global", v1alpha1.PartnerTypeISV, "registered", 0, ev("revenue", "70", "user:mallory", day)),
		// g: another program: ignored everywhere.
		partner("p", "g", "other", v1alpha1.PartnerTypeISV, "gold", 1, ev("revenue", "999", "user:crm", day)),
	}
	r1 := request("p", "r1", "a", v1alpha1.RequestFunds, v1alpha1.PhasePending)
	r1.Status.StageDeadline = ptr(ago(-day)) // tomorrow
	r1.Status.Decisions = []v1alpha1.ReviewDecision{decided(2 * day)}
	r2 := request("p", "r2", "b", v1alpha1.RequestTierPromotion, "")
	r3 := request("p", "r3", "c", v1alpha1.RequestFunds, v1alpha1.PhasePending)
	r3.Status.StageDeadline = ptr(ago(time.Hour)) // passed: breach
	r4 := request("p", "r4", "d", v1alpha1.RequestIncentiveException, v1alpha1.PhaseDenied)
	r4.Status.Conditions = []metav1.Condition{ // denied on timeout 5 days ago: breach
		cond(v1alpha1.ConditionDenied, metav1.ConditionTrue, v1alpha1.ReasonTimeoutDenied, 5*day),
		cond(v1alpha1.ConditionEscalated, metav1.ConditionFalse, v1alpha1.ReasonTimeoutDenied, 5*day)}
	r5 := request("p", "r5", "a", v1alpha1.RequestFunds, v1alpha1.PhaseDenied)
	r5.Status.Conditions = []metav1.Condition{ // 40 days ago: outside the window
		cond(v1alpha1.ConditionDenied, metav1.ConditionTrue, v1alpha1.ReasonTimeoutDenied, 40*day)}
	r5.Status.Decisions = []v1alpha1.ReviewDecision{decided(31 * day), decided(10 * day), {Stage: "s"}}
	r6 := request("p", "r6", "b", v1alpha1.RequestFunds, v1alpha1.PhasePending)
	r6.Status.StageDeadline = ptr(ago(time.Hour)) // escalated and past the deadline: one breach
	r6.Status.Conditions = []metav1.Condition{cond(v1alpha1.ConditionEscalated, metav1.ConditionTrue, v1alpha1.ReasonSLABreached, day)}
	r7 := request("p", "r7", "g", v1alpha1.RequestFunds, v1alpha1.PhasePending)          // other program
	r8 := request("elsewhere", "r8", "a", v1alpha1.RequestFunds, v1alpha1.PhasePending)  // no such partner there
	r9 := request("p", "r9", "a", v1alpha1.RequestTierException, v1alpha1.PhaseApproved) // decided, no breach
	f.requests = []v1alpha1.ExceptionRequest{r1, r2, r3, r4, r5, r6, r7, r8, r9}
	published := cond(v1alpha1.ConditionPublished, metav1.ConditionTrue, "Entitled", day)
	f.listings = []v1alpha1.Listing{
		listingOf("p", "l1", "a", published, cond(v1alpha1.ConditionLowAdoption, metav1.ConditionTrue, "TrafficWithoutAdoption", day)),
		listingOf("p", "l2", "b", cond(v1alpha1.ConditionPublished, metav1.ConditionFalse, "EntitlementRevoked", day)),
		listingOf("p", "l3", "e"),
		listingOf("p", "l4", "g", published),
	}
	return f
}

func TestCompute(t *testing.T) {
	for name, tc := range map[string]struct {
		program *v1alpha1.PartnerProgram
		tiers   []v1alpha1.PartnerTier
		fixture fixture
		want    v1alpha1.Scorecard
	}{
		"hand-counted fixture": {
			program: program(), tiers: tiers(), fixture: handCounted(),
			want: v1alpha1.Scorecard{
				PartnersByTier: []v1alpha1.Count{{Name: "None", Count: 1}, {Name: "premier", Count: 1}, {Name: "registered", Count: 1}, {Name: "select", Count: 3}},
				PartnersByType: []v1alpha1.Count{{Name: "GSI", Count: 2}, {Name: "ISV", Count: 2}, {Name: "MSP", Count: 1}, {Name: "Reseller", Count: 1}},
				// tiered above rank 0: a, b, c, d; backed: a, b.
				OutcomeBackedPercent: ptr(int32(50)),
				OutcomeTotals: []v1alpha1.MetricTotal{
					{Metric: "csat", Unit: "score", Aggregation: avg, Total: "4.5", Partners: 1},
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "2200", Partners: 3}, // a 150 + b 2000 + e 50
				},
				OpenRequestsByType:  []v1alpha1.Count{{Name: "Funds", Count: 3}, {Name: "TierPromotion", Count: 1}}, // r1, r3, r6; r2
				SLABreaches:         3,                                                                              // r3, r4, r6
				DecisionsLast30Days: 2,                                                                              // r1 2d, r5 10d
				ListingsPublished:   1, ListingsUnpublished: 2, ListingsLowAdoption: 1,
			},
		},
		"no program": {tiers: tiers(), fixture: handCounted()},
		"program without partners": {
			program: program(), tiers: tiers(),
			want: v1alpha1.Scorecard{OutcomeTotals: []v1alpha1.MetricTotal{
				{Metric: "csat", Unit: "score", Aggregation: avg, Total: "0"}, {Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "0"}}},
		},
		"evidence below the threshold does not back the tier": {
			program: program(), tiers: tiers(),
			fixture: fixture{partners: []v1alpha1.Partner{
				partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "premier", 2, ev("revenue", "999", "user:crm", day), ev("csat", "3", "user:survey", day)),
				partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "premier", 2, ev("revenue", "999", "user:crm", day), ev("csat", "4", "user:survey", day)),
				partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "premier", 2, ev("revenue", "1000", "user:crm", day)),
			}},
			want: v1alpha1.Scorecard{
				PartnersByTier:       []v1alpha1.Count{{Name: "premier", Count: 3}},
				PartnersByType:       []v1alpha1.Count{{Name: "GSI", Count: 3}},
				OutcomeBackedPercent: ptr(int32(66)), // 2 of 3, rounded down
				OutcomeTotals: []v1alpha1.MetricTotal{
					{Metric: "csat", Unit: "score", Aggregation: avg, Total: "3.5", Partners: 2}, // (3 + 4) / 2, never 7
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "2998", Partners: 3}},
			},
		},
		"evidence stops counting at observedAt plus the window, and untrusted or unknown evidence never": {
			program: program(), tiers: tiers(),
			fixture: fixture{partners: []v1alpha1.Partner{
				partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("revenue", "0.1", "user:crm", 90*day)),
				partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("revenue", "0.2", "user:crm", 90*day-time.Second)),
				partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("revenue", "0.1", "group:crm", day), ev("unknown", "5", "user:crm", day)),
				partner("p", "d", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("revenue", "0.1", "user:crm", day)),
			}},
			want: v1alpha1.Scorecard{
				PartnersByTier: []v1alpha1.Count{{Name: "None", Count: 4}},
				PartnersByType: []v1alpha1.Count{{Name: "GSI", Count: 4}},
				OutcomeTotals: []v1alpha1.MetricTotal{
					{Metric: "csat", Unit: "score", Aggregation: avg, Total: "0"},
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "0.3", Partners: 2}},
			},
		},
		"a tier of another program or a removed tier is not outcome-backed": {
			program: program(), tiers: tiers(),
			fixture: fixture{partners: []v1alpha1.Partner{
				partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "gold", 1, ev("revenue", "5", "user:crm", day)),
				partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "gone", 3, ev("revenue", "5", "user:crm", day)),
			}},
			want: v1alpha1.Scorecard{
				PartnersByTier:       []v1alpha1.Count{{Name: "gold", Count: 1}, {Name: "gone", Count: 1}},
				PartnersByType:       []v1alpha1.Count{{Name: "GSI", Count: 2}},
				OutcomeBackedPercent: ptr(int32(0)),
				OutcomeTotals: []v1alpha1.MetricTotal{
					{Metric: "csat", Unit: "score", Aggregation: avg, Total: "0"},
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "10", Partners: 2}},
			},
		},
		"a score is averaged, never summed": {
			program: program(), tiers: tiers(),
			fixture: fixture{partners: []v1alpha1.Partner{
				partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("csat", "4", "user:survey", day), ev("revenue", "100", "user:crm", day)),
				partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("csat", "4.5", "user:survey", day), ev("revenue", "200", "user:crm", day)),
				partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("csat", "5", "user:survey", 2*day)),
				// stale (40d > 30d): neither in the mean nor in the count
				partner("p", "d", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("csat", "1", "user:survey", 40*day)),
			}},
			want: v1alpha1.Scorecard{
				PartnersByTier: []v1alpha1.Count{{Name: "None", Count: 4}},
				PartnersByType: []v1alpha1.Count{{Name: "GSI", Count: 4}},
				OutcomeTotals: []v1alpha1.MetricTotal{
					{Metric: "csat", Unit: "score", Aggregation: avg, Total: "4.5", Partners: 3}, // (4 + 4.5 + 5) / 3; summed it would be 13.5
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "300", Partners: 2}},
			},
		},
		"the mean is exact": {
			program: program(), tiers: tiers(),
			fixture: fixture{partners: []v1alpha1.Partner{
				partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("csat", "123456789012345678.123456789", "user:survey", day)),
				partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("csat", "0.000000002", "user:survey", day)),
				partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("csat", "1", "user:survey", day)),
			}},
			want: v1alpha1.Scorecard{
				PartnersByTier: []v1alpha1.Count{{Name: "None", Count: 3}},
				PartnersByType: []v1alpha1.Count{{Name: "GSI", Count: 3}},
				OutcomeTotals: []v1alpha1.MetricTotal{
					// 123456789012345679.123456791 / 3, exactly; a float64 mean gives 41152263004115224
					{Metric: "csat", Unit: "score", Aggregation: avg, Total: "41152263004115226.374485597", Partners: 3},
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "0"}},
			},
		},
		"declared aggregations: Max, Latest, a percentage averaged, a score declared Sum": {
			program: aggregating(), tiers: tiers(),
			fixture: fixture{partners: []v1alpha1.Partner{
				partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "", 0,
					ev("deals", "7", "user:crm", day), ev("pipeline", "5000", "user:crm", 3*day),
					ev("nps", "40", "user:survey", day), ev("csat", "4", "user:survey", day)),
				partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "", 0,
					ev("deals", "12", "user:crm", 5*day), ev("pipeline", "800", "user:crm", day), // newest pipeline
					ev("nps", "45", "user:survey", day), ev("csat", "3", "user:survey", day)),
				partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "", 0,
					ev("deals", "9", "user:crm", day), ev("pipeline", "9000", "user:crm", 2*day),
					ev("pipeline", "100", "user:crm", 10*day)), // an older entry of c: CurrentEvidence keeps the newest
			}},
			want: v1alpha1.Scorecard{
				PartnersByTier: []v1alpha1.Count{{Name: "None", Count: 3}},
				PartnersByType: []v1alpha1.Count{{Name: "GSI", Count: 3}},
				OutcomeTotals: []v1alpha1.MetricTotal{
					{Metric: "csat", Unit: "score", Aggregation: sum, Total: "7", Partners: 2},
					{Metric: "deals", Unit: "count", Aggregation: maxAgg, Total: "12", Partners: 3},
					{Metric: "nps", Unit: "percent", Aggregation: avg, Total: "42.5", Partners: 2},
					{Metric: "pipeline", Unit: "USD", Aggregation: latest, Total: "800", Partners: 3},
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "0"}},
			},
		},
		"Latest of values observed at the same instant is the largest, whatever the order": {
			program: aggregating(), tiers: tiers(),
			fixture: fixture{partners: []v1alpha1.Partner{
				partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("pipeline", "300", "user:crm", day)),
				partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("pipeline", "700", "user:crm", day)),
				partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "", 0, ev("pipeline", "500", "user:crm", day)),
			}},
			want: v1alpha1.Scorecard{
				PartnersByTier: []v1alpha1.Count{{Name: "None", Count: 3}},
				PartnersByType: []v1alpha1.Count{{Name: "GSI", Count: 3}},
				OutcomeTotals: []v1alpha1.MetricTotal{
					{Metric: "csat", Unit: "score", Aggregation: sum, Total: "0"},
					{Metric: "deals", Unit: "count", Aggregation: maxAgg, Total: "0"},
					{Metric: "nps", Unit: "percent", Aggregation: avg, Total: "0"},
					{Metric: "pipeline", Unit: "USD", Aggregation: latest, Total: "700", Partners: 3},
					{Metric: "revenue", Unit: "USD", Aggregation: sum, Total: "0"}},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := tc.fixture
			got := Compute(tc.program, tc.tiers, f.partners, f.requests, f.listings, now)
			if !equality.Semantic.DeepEqual(got, tc.want) {
				t.Fatalf("Compute:\n got %+v\nwant %+v", got, tc.want)
			}
			// The order of the input does not matter.
			slices.Reverse(f.partners)
			slices.Reverse(f.requests)
			slices.Reverse(f.listings)
			again := Compute(tc.program, tc.tiers, f.partners, f.requests, f.listings, now)
			if !equality.Semantic.DeepEqual(again, got) {
				t.Fatalf("Compute on reversed input:\n got %+v\nwant %+v", again, got)
			}
		})
	}
}

func TestComputeDoesNotModifyItsInput(t *testing.T) {
	f := handCounted()
	before := handCounted()
	p, ts := program(), tiers()
	Compute(p, ts, f.partners, f.requests, f.listings, now)
	if !equality.Semantic.DeepEqual(f.partners, before.partners) || !equality.Semantic.DeepEqual(f.requests, before.requests) ||
		!equality.Semantic.DeepEqual(f.listings, before.listings) || !equality.Semantic.DeepEqual(p, program()) || !equality.Semantic.DeepEqual(ts, tiers()) {
		t.Fatal("Compute modified its input")
	}
}

func TestSLABreachWindow(t *testing.T) {
	for name, tc := range map[string]struct {
		phase v1alpha1.RequestPhase
		conds []metav1.Condition
		due   *metav1.Time
		want  bool
	}{
		"pending, deadline ahead":             {phase: v1alpha1.PhasePending, due: ptr(ago(-time.Second))},
		"pending, deadline now":               {phase: v1alpha1.PhasePending, due: ptr(ago(0)), want: true},
		"approved with a past deadline":       {phase: v1alpha1.PhaseApproved, due: ptr(ago(day))},
		"escalated 30 days ago exactly":       {phase: v1alpha1.PhasePending, conds: []metav1.Condition{cond(v1alpha1.ConditionEscalated, metav1.ConditionTrue, v1alpha1.ReasonSLABreached, Window)}},
		"escalated just inside the window":    {phase: v1alpha1.PhasePending, conds: []metav1.Condition{cond(v1alpha1.ConditionEscalated, metav1.ConditionTrue, v1alpha1.ReasonSLABreached, Window-time.Second)}, want: true},
		"escalated for another reason":        {phase: v1alpha1.PhasePending, conds: []metav1.Condition{cond(v1alpha1.ConditionEscalated, metav1.ConditionTrue, "NoReviewStage", day)}},
		"denied by a reviewer":                {phase: v1alpha1.PhaseDenied, conds: []metav1.Condition{cond(v1alpha1.ConditionDenied, metav1.ConditionTrue, v1alpha1.ReasonDeniedByReviewer, day)}},
		"timeout reason on a false condition": {phase: v1alpha1.PhaseDenied, conds: []metav1.Condition{cond(v1alpha1.ConditionEscalated, metav1.ConditionFalse, v1alpha1.ReasonTimeoutDenied, day)}},
	} {
		t.Run(name, func(t *testing.T) {
			q := request("p", "r", "a", v1alpha1.RequestFunds, tc.phase)
			q.Status.Conditions, q.Status.StageDeadline = tc.conds, tc.due
			if got := SLABreached(&q, now); got != tc.want {
				t.Fatalf("SLABreached = %v, want %v", got, tc.want)
			}
		})
	}
}

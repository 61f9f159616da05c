package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

const crm = "system:serviceaccount:integrations:crm-sync"

func testProgram() *v1alpha1.PartnerProgram {
	sa := func(name string) v1alpha1.Identities {
		return v1alpha1.Identities{ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "integrations", Name: name}}}
	}
	return &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "global"},
		Spec: v1alpha1.PartnerProgramSpec{Owner: "owner@example.com", Metrics: []v1alpha1.MetricDefinition{
			{Name: "revenue", Class: v1alpha1.MetricClassOutcome, Unit: "USD", FreshnessWindow: metav1.Duration{Duration: 90 * 24 * time.Hour}, TrustedReporters: sa("crm-sync")},
			{Name: "training", Class: v1alpha1.MetricClassEnablement, Unit: "count", FreshnessWindow: metav1.Duration{Duration: 30 * 24 * time.Hour}, TrustedReporters: sa("lms-sync")},
			{Name: "csat", Class: v1alpha1.MetricClassOutcome, Unit: "score", FreshnessWindow: metav1.Duration{Duration: 24 * time.Hour}, TrustedReporters: sa("survey")},
		}},
	}
}

func testTier(name string, rank int32, reqs ...v1alpha1.TierRequirement) v1alpha1.PartnerTier {
	return v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.PartnerTierSpec{Program: "global", Rank: rank, Requirements: reqs}}
}

func req(metric string, op v1alpha1.ComparisonOperator, threshold string) v1alpha1.TierRequirement {
	return v1alpha1.TierRequirement{Metric: metric, Operator: op, Threshold: v1alpha1.Decimal(threshold)}
}

func entry(metric, value, via string, observed time.Time) v1alpha1.EvidenceEntry {
	return v1alpha1.EvidenceEntry{Metric: metric, Value: v1alpha1.Decimal(value), ObservedAt: metav1.NewTime(observed), Source: "someone", TrustedVia: via}
}

func testTiers() []v1alpha1.PartnerTier {
	return []v1alpha1.PartnerTier{
		testTier("premier", 2, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "1000"), req("csat", v1alpha1.OperatorGreaterThan, "4"), req("training", v1alpha1.OperatorGreaterThanOrEqual, "5")),
		testTier("registered", 0),
		testTier("select", 1, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "100"), req("training", v1alpha1.OperatorGreaterThanOrEqual, "5")),
		testTier("other-program-tier", 1, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "1")),
	}
}

func testPartner() *v1alpha1.Partner {
	rank := int32(1)
	since := metav1.NewTime(now.Add(-48 * time.Hour))
	demotion := metav1.NewTime(now.Add(20 * 24 * time.Hour))
	grantExpiry := metav1.NewTime(now.Add(5 * 24 * time.Hour))
	revenue := entry("revenue", "150", "serviceaccount:integrations/crm-sync", now.Add(-time.Hour))
	revenue.Source = crm
	p := &v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme"},
		Spec:       v1alpha1.PartnerSpec{Program: "global", Type: v1alpha1.PartnerTypeGSI, Owner: "o@example.com"},
		Status: v1alpha1.PartnerStatus{
			Tier: "select", TierRank: &rank, TierSince: &since, QualifiedTier: "registered", DemotionDeadline: &demotion,
			Evidence: []v1alpha1.EvidenceEntry{
				revenue,
				entry("training", "7", "serviceaccount:integrations/lms-sync", now.Add(-31*24*time.Hour)), // stale
				entry("csat", "4.5", "user:gone", now.Add(-time.Hour)),                                    // no longer trusted
			},
			Grants: []v1alpha1.ActiveGrant{{Request: "keep-select", Type: v1alpha1.RequestTierException, Expires: &grantExpiry}},
			Entitlements: []v1alpha1.EffectiveEntitlement{
				{Name: v1alpha1.EntitlementResell, Source: v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: "select"}},
				{Name: v1alpha1.EntitlementFunds, Cap: &v1alpha1.Money{Amount: "50000", Currency: "USD"}, Source: v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: "select"}},
			},
		},
	}
	return p
}

func TestExplainChecksTheCurrentAndTheNextTier(t *testing.T) {
	tiers := testTiers()
	tiers[3].Spec.Program = "elsewhere"
	e := explain(testPartner(), testProgram(), tiers, now)

	if e.Current == nil || e.Current.Tier.Name != "select" || e.Next == nil || e.Next.Tier.Name != "premier" {
		t.Fatalf("current %v, next %v; want select and premier", e.Current, e.Next)
	}
	type check struct {
		metric string
		met    bool
		state  string
	}
	want := map[string][]check{
		"select": {
			{"revenue", true, "fresh until 2027-02-21T11:00:00Z"},
			{"training", false, "stale since 2026-11-22T12:00:00Z"},
		},
		"premier": {
			{"revenue", false, "fresh until"}, // 150 < 1000
			{"csat", false, `not trusted (admitted via "user:gone"`},
			{"training", false, "stale since"},
		},
	}
	for _, te := range []*TierExplanation{e.Current, e.Next} {
		w := want[te.Tier.Name]
		if len(te.Requirements) != len(w) {
			t.Fatalf("tier %s: %d requirements, want %d", te.Tier.Name, len(te.Requirements), len(w))
		}
		for i, r := range te.Requirements {
			if r.Metric != w[i].metric || r.Met != w[i].met || !strings.Contains(r.State, w[i].state) {
				t.Errorf("tier %s requirement %d = %s met=%v %q, want %+v", te.Tier.Name, i, r.Metric, r.Met, r.State, w[i])
			}
		}
		if te.Met() {
			t.Errorf("tier %s is met, want not met", te.Tier.Name)
		}
	}

	// Only counted evidence goes stale in the future: revenue, in 90 days less an hour.
	if e.Stale == nil || !e.Stale.At.Equal(now.Add(90*24*time.Hour-time.Hour)) || e.Stale.What != "evidence of revenue goes stale" {
		t.Errorf("stale deadline = %+v", e.Stale)
	}
	if e.Demotion == nil || !e.Demotion.At.Equal(now.Add(20*24*time.Hour)) {
		t.Errorf("demotion deadline = %+v", e.Demotion)
	}
	if e.NextDeadline != e.GrantExpiry || e.GrantExpiry.What != "TierException keep-select expires" {
		t.Errorf("next deadline = %+v, want the grant expiry", e.NextDeadline)
	}
}

func TestExplainWithoutATierNamesTheLowestTierAsNext(t *testing.T) {
	p := testPartner()
	p.Status = v1alpha1.PartnerStatus{}
	e := explain(p, testProgram(), testTiers(), now)
	if e.Current != nil || e.Next == nil || e.Next.Tier.Name != "registered" || !e.Next.Met() {
		t.Fatalf("current %v, next %v; want none and registered (met)", e.Current, e.Next)
	}
	if e.NextDeadline != nil {
		t.Errorf("next deadline = %+v, want none", e.NextDeadline)
	}
}

func TestExplainWithoutTheProgramSaysTiersCannotBeEarned(t *testing.T) {
	e := explain(testPartner(), nil, testTiers(), now)
	if e.Current == nil || !strings.Contains(e.Current.Problem, `program "global" does not exist`) || e.Current.Met() {
		t.Fatalf("current = %+v", e.Current)
	}
	for _, r := range e.Current.Requirements {
		if r.Met || r.State != "ignored: metric not in the program's catalog" {
			t.Errorf("requirement %s: met=%v %q", r.Metric, r.Met, r.State)
		}
	}
}

func TestWriteExplanation(t *testing.T) {
	var out bytes.Buffer
	if err := writeExplanation(&out, explain(testPartner(), testProgram(), testTiers(), now)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Partner:              partners/acme (GSI, program global)\n",
		"Tier:                 select (rank 1), since 2026-11-21T12:00:00Z (2d ago)\n",
		"Qualified tier:       registered\n",
		"Demotion deadline:    2026-12-13T12:00:00Z (in 20d): tier select is lost unless the evidence recovers\n",
		"Evidence goes stale:  2027-02-21T11:00:00Z (in 89d): evidence of revenue goes stale\n",
		"Grant expires:        2026-11-28T12:00:00Z (in 5d): TierException keep-select expires\n",
		"Next deadline:        2026-11-28T12:00:00Z (in 5d): TierException keep-select expires\n",
		"\nCurrent tier select (rank 1): 1 of 2 requirements not met\n",
		"  METRIC    REQUIREMENT  MET  VALUE  SOURCE",
		"  revenue   >= 100       yes  150    " + crm + "  60m  fresh until 2027-02-21T11:00:00Z (in 89d), trusted via serviceaccount:integrations/crm-sync\n",
		"  training  >= 5         no   7      someone",
		"\nNext tier premier (rank 2): 3 of 3 requirements not met\n",
		"  csat      > 4          no   4.5    someone",
		"Exceptions in force (status.grants):\n  REQUEST      TYPE           EXPIRES\n  keep-select  TierException  2026-11-28T12:00:00Z (in 5d)\n",
		"Entitlements:\n  NAME    DETAIL                 SOURCE       EXPIRES\n  Resell  -                      Tier select  -\n  Funds   cap 50000 USD/quarter  Tier select  -\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestWriteExplanationOfTheTopTier(t *testing.T) {
	p := testPartner()
	p.Status.Tier, p.Status.Grants, p.Status.Entitlements = "premier", nil, nil
	var out bytes.Buffer
	if err := writeExplanation(&out, explain(p, testProgram(), testTiers(), now)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Next tier: none (no tier of program global ranks higher)\n",
		"Exceptions in force (status.grants):\n  none\n",
		"Entitlements:\n  none\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWriteExplanationShowsThePhaseStepsAndProbation(t *testing.T) {
	p := testPartner()
	since := metav1.NewTime(now.Add(-24 * time.Hour))
	met := metav1.NewTime(now.Add(-10 * 24 * time.Hour))
	p.Status.Lifecycle = &v1alpha1.PartnerLifecycle{
		Phase: v1alpha1.LifecycleProbation, Since: &since, Reason: v1alpha1.ReasonOnboardingStepOverdue,
		Onboarding: []v1alpha1.OnboardingStepStatus{
			{Name: "sales-certification", State: v1alpha1.OnboardingStepMet, Due: metav1.NewTime(now.Add(-5 * 24 * time.Hour)), MetAt: &met},
			{Name: "security-review", State: v1alpha1.OnboardingStepOverdue, Due: since},
		},
		ProbationReasons: []string{"onboarding step security-review was due at 2026-11-22T12:00:00Z and is not met"},
		Withheld:         []v1alpha1.EntitlementName{v1alpha1.EntitlementFunds, v1alpha1.EntitlementResell},
	}
	var out bytes.Buffer
	if err := writeExplanation(&out, explain(p, testProgram(), testTiers(), now)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Phase:                Probation, since 2026-11-22T12:00:00Z (24h ago) (OnboardingStepOverdue)\n",
		"\nOnboarding steps (status.lifecycle.onboarding):\n",
		"  sales-certification  Met      2026-11-18T12:00:00Z (5d ago)   2026-11-13T12:00:00Z (10d ago)\n",
		"  security-review      Overdue  2026-11-22T12:00:00Z (24h ago)  -\n",
		"\nOn probation:\n  - onboarding step security-review was due at 2026-11-22T12:00:00Z and is not met\n  withheld: Funds, Resell\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// A partner without a lifecycle (an older controller) shows none of it.
	out.Reset()
	if err := writeExplanation(&out, explain(testPartner(), testProgram(), testTiers(), now)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "Phase:") || strings.Contains(out.String(), "Onboarding steps") {
		t.Errorf("output without a lifecycle shows one:\n%s", out.String())
	}
}

package plugin

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// pageFixture is what partnerPage reads: partner partners/acme holding select,
// its program and tiers, and requests and listings of acme, of another partner
// (globex) in the same namespace, of an earlier partner named acme, and of a
// partner named acme in another namespace (elsewhere).
type pageFixture struct {
	partner  *v1alpha1.Partner
	program  *v1alpha1.PartnerProgram
	tiers    []v1alpha1.PartnerTier
	requests []v1alpha1.ExceptionRequest
	listings []v1alpha1.Listing
}

func (f pageFixture) page() PartnerPage {
	return partnerPage(f.partner, f.program, f.tiers, f.requests, f.listings, now)
}

const day = 24 * time.Hour

func newPageFixture() pageFixture {
	program := testProgram()
	crmSync := v1alpha1.Identities{ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "integrations", Name: "crm-sync"}}}
	program.Spec.Metrics = append(program.Spec.Metrics, v1alpha1.MetricDefinition{Name: "pipeline", Class: v1alpha1.MetricClassOutcome,
		Unit: "USD", FreshnessWindow: metav1.Duration{Duration: 90 * day}, TrustedReporters: crmSync})
	program.Spec.Metrics[2].TrustedReporters.Users = []string{"survey@example.com"}

	rank := int32(1)
	since := metav1.NewTime(now.Add(-48 * time.Hour))
	p := &v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme", UID: "uid-acme"},
		Spec: v1alpha1.PartnerSpec{Program: "global", Type: v1alpha1.PartnerTypeGSI, Owner: "o@example.com",
			DisplayName: "Acme Consulting"},
		Status: v1alpha1.PartnerStatus{
			Tier: "select", TierRank: &rank, TierSince: &since, QualifiedTier: "select",
			Evidence: []v1alpha1.EvidenceEntry{
				entry("training", "7", "serviceaccount:integrations/lms-sync", now.Add(-25*day)), // 5d left: going stale
				entry("revenue", "150", "serviceaccount:integrations/crm-sync", now.Add(-time.Hour)),
				entry("csat", "4.5", "user:survey@example.com", now.Add(-2*day)), // 1d window: stale
				entry("pipeline", "900", "user:gone", now.Add(-time.Hour)),       // no longer trusted
				entry("old-metric", "1", "user:gone", now.Add(-time.Hour)),       // dropped from the catalog
			},
			History: []v1alpha1.TierDecision{
				{Time: metav1.NewTime(now.Add(-30 * day)), To: "registered", Reason: "Qualified"},
				{Time: since, From: "registered", To: "select", Reason: "Promoted"},
			},
			Entitlements: []v1alpha1.EffectiveEntitlement{
				{Name: v1alpha1.EntitlementResell, Source: v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: "select"}},
				{Name: v1alpha1.EntitlementFunds, Cap: &v1alpha1.Money{Amount: "50000", Currency: "USD"},
					Source: v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: "select"}},
				{Name: v1alpha1.EntitlementCoSell, Segments: []string{"enterprise", "public-sector"},
					Source:  v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceExceptionRequest, Name: "acme-cosell"},
					Expires: ptrTime(now.Add(30 * day))},
			},
		},
	}

	request := func(ns, name, partner, uid string, typ v1alpha1.RequestType, phase v1alpha1.RequestPhase, age time.Duration) v1alpha1.ExceptionRequest {
		r := v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))}}
		r.Spec = v1alpha1.ExceptionRequestSpec{Type: typ, Partner: partner, PartnerUID: uid, Justification: "because " + name}
		r.Status.Phase = phase
		return r
	}
	funds := request("partners", "acme-q4-funds", "acme", "uid-acme", v1alpha1.RequestFunds, v1alpha1.PhasePending, 3*time.Hour)
	funds.Spec.Amount = &v1alpha1.Money{Amount: "75000", Currency: "USD"}
	funds.Status.CurrentStage, funds.Status.StageDeadline = "finance", ptrTime(now.Add(2*day))
	claim := request("partners", "acme-sync-certification", "acme", "", v1alpha1.RequestReadinessClaim, "", time.Hour)
	claim.Spec.Grant = &v1alpha1.Grant{Claim: &v1alpha1.ClaimGrant{Kind: v1alpha1.ReadinessClaimCertification, Product: "sync"}}
	promote := request("partners", "acme-promote-premier", "acme", "uid-acme", v1alpha1.RequestTierPromotion, v1alpha1.PhasePending, 5*day)
	promote.Spec.Grant = &v1alpha1.Grant{Tier: "premier"}
	promote.Status.CurrentStage = "program-office"
	requests := []v1alpha1.ExceptionRequest{
		claim, funds, promote,
		request("partners", "acme-approved-cosell", "acme", "uid-acme", v1alpha1.RequestIncentiveException, v1alpha1.PhaseApproved, 9*day),
		request("partners", "acme-denied", "acme", "uid-acme", v1alpha1.RequestFunds, v1alpha1.PhaseDenied, 9*day),
		request("partners", "acme-of-an-earlier-partner", "acme", "uid-earlier", v1alpha1.RequestFunds, v1alpha1.PhasePending, 40*day),
		request("partners", "globex-tier-exception", "globex", "uid-globex", v1alpha1.RequestTierException, v1alpha1.PhasePending, time.Hour),
		request("elsewhere", "elsewhere-acme-funds", "acme", "uid-elsewhere", v1alpha1.RequestFunds, v1alpha1.PhasePending, time.Hour),
	}

	listing := func(ns, name, partner string, published bool) v1alpha1.Listing {
		l := v1alpha1.Listing{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.ListingSpec{Partner: partner, Product: name + "-product", Kind: v1alpha1.ListingKindApp}}
		status := metav1.ConditionFalse
		if published {
			status = metav1.ConditionTrue
			l.Status.PublishedVersions, l.Status.LatestVersion = []string{"1.0.0", "2.0.0"}, "2.0.0"
			l.Status.ShownClaimsSummary = "Certified"
		}
		l.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionPublished, Status: status, Reason: "X"}}
		return l
	}
	listings := []v1alpha1.Listing{
		listing("partners", "acme-sync", "acme", true),
		listing("partners", "acme-draft", "acme", false),
		listing("partners", "acme-analytics", "acme", true),
		listing("partners", "globex-app", "globex", true),
		listing("elsewhere", "elsewhere-acme-app", "acme", true),
	}
	return pageFixture{partner: p, program: program, tiers: testTiers(), requests: requests, listings: listings}
}

func TestPartnerPage(t *testing.T) {
	names := func(rows any) string {
		var out []string
		switch rows := rows.(type) {
		case []RequestStanding:
			for _, r := range rows {
				out = append(out, r.Name)
			}
		case []ListingStanding:
			for _, l := range rows {
				out = append(out, l.Name)
			}
		case []EvidenceStanding:
			for _, e := range rows {
				out = append(out, e.Metric+"="+e.State)
			}
		case []EntitlementStanding:
			for _, e := range rows {
				out = append(out, e.Name+"<-"+e.Source)
			}
		case []RequirementNeed:
			for _, r := range rows {
				out = append(out, fmt.Sprintf("%s %s %v %d%% %q", r.Metric, r.Value, r.Met, r.Progress, r.Missing))
			}
		}
		return strings.Join(out, "; ")
	}
	for name, tc := range map[string]struct {
		change func(f *pageFixture)
		check  func(t *testing.T, p PartnerPage)
	}{
		"the tier, since when and how": {
			check: func(t *testing.T, p PartnerPage) {
				if p.Tier != "select" || *p.TierRank != 1 || !p.Since.Equal(now.Add(-48*time.Hour)) || p.SinceReason != "Promoted" {
					t.Errorf("tier %s rank %d since %v (%s)", p.Tier, *p.TierRank, p.Since, p.SinceReason)
				}
				if p.Title != "Acme Consulting" || p.AtRisk != "" || p.Promotion != "" || p.ProgramMissing {
					t.Errorf("title %q at risk %q promotion %q missing program %v", p.Title, p.AtRisk, p.Promotion, p.ProgramMissing)
				}
			},
		},
		"since falls back to the decision that gave the tier, with its request": {
			change: func(f *pageFixture) {
				f.partner.Status.TierSince = nil
				f.partner.Status.History[1].Reason, f.partner.Status.History[1].Request = "TierException", "keep-select"
			},
			check: func(t *testing.T, p PartnerPage) {
				if p.Since == nil || !p.Since.Equal(now.Add(-48*time.Hour)) || p.SinceReason != "TierException (request keep-select)" {
					t.Errorf("since %v (%s)", p.Since, p.SinceReason)
				}
			},
		},
		"at risk with the demotion deadline, and a pending promotion": {
			change: func(f *pageFixture) {
				f.partner.Status.DemotionDeadline = ptrTime(now.Add(10 * day))
				f.partner.Status.Conditions = []metav1.Condition{
					{Type: v1alpha1.ConditionTierAtRisk, Status: metav1.ConditionTrue, Reason: "GracePeriod"},
					{Type: v1alpha1.ConditionPromotionPending, Status: metav1.ConditionTrue, Reason: "AwaitingReview", Message: "the promotion waits for review"},
				}
			},
			check: func(t *testing.T, p PartnerPage) {
				if p.AtRisk != "yes: tier select is lost on 2026-12-03T12:00:00Z (in 10d) unless the evidence recovers" {
					t.Errorf("at risk = %q", p.AtRisk)
				}
				if p.Promotion != "the promotion waits for review" {
					t.Errorf("promotion = %q", p.Promotion)
				}
				if p.NextDeadline == nil || !p.NextDeadline.At.Equal(now.Add(5*day)) {
					t.Errorf("next deadline = %+v, want training going stale in 5d", p.NextDeadline)
				}
			},
		},
		"the next tier: each requirement, how much of it is reached and what is missing": {
			check: func(t *testing.T, p PartnerPage) {
				n := p.Next
				if n == nil || n.Name != "premier" || n.Rank != 2 || n.Unmet != 2 {
					t.Fatalf("next = %+v", n)
				}
				want := `revenue 150 USD false 15% "850 more"; csat 4.5 score false 0% "a current value of csat"; training 7 count true 100% ""`
				if got := names(n.Requirements); got != want {
					t.Errorf("next tier requirements:\n got %s\nwant %s", got, want)
				}
				if p.Current == nil || p.Current.Name != "select" || p.Current.Unmet != 0 {
					t.Errorf("current = %+v", p.Current)
				}
			},
		},
		"the top tier has no next tier": {
			change: func(f *pageFixture) { f.partner.Status.Tier = "premier" },
			check: func(t *testing.T, p PartnerPage) {
				if p.Next != nil || p.Current == nil || p.Current.Name != "premier" {
					t.Errorf("current %+v next %+v", p.Current, p.Next)
				}
			},
		},
		"a partner without a tier needs the lowest tier next": {
			change: func(f *pageFixture) {
				f.partner.Status.Tier, f.partner.Status.TierRank, f.partner.Status.TierSince = "", nil, nil
			},
			check: func(t *testing.T, p PartnerPage) {
				if p.Current != nil || p.Next == nil || p.Next.Name != "registered" || p.Since != nil || p.SinceReason != "" {
					t.Errorf("current %+v next %+v since %v %q", p.Current, p.Next, p.Since, p.SinceReason)
				}
			},
		},
		"a value missing, and the ways a value falls short of a bound": {
			change: func(f *pageFixture) {
				f.partner.Status.Evidence = f.partner.Status.Evidence[1:2] // revenue 150 only
				f.tiers = []v1alpha1.PartnerTier{
					testTier("select", 1),
					testTier("premier", 2, req("revenue", v1alpha1.OperatorGreaterThan, "600"), req("revenue", v1alpha1.OperatorLessThanOrEqual, "100"),
						req("revenue", v1alpha1.OperatorLessThan, "50"), req("revenue", v1alpha1.OperatorEqual, "10"), req("training", v1alpha1.OperatorGreaterThanOrEqual, "5")),
				}
			},
			check: func(t *testing.T, p PartnerPage) {
				want := `revenue 150 USD false 25% "more than 450 more"; revenue 150 USD false 66% "50 less"; ` +
					`revenue 150 USD false 33% "more than 100 less"; revenue 150 USD false 0% "exactly 10"; ` +
					`training - false 0% "a value of training (none reported)"`
				if got := names(p.Next.Requirements); got != want {
					t.Errorf("next tier requirements:\n got %s\nwant %s", got, want)
				}
			},
		},
		"evidence freshness: fresh, going stale, stale, untrusted and dropped, by metric": {
			check: func(t *testing.T, p PartnerPage) {
				want := "csat=stale; old-metric=not counted; pipeline=not counted; revenue=fresh; training=stale within 7d"
				if got := names(p.Evidence); got != want {
					t.Errorf("evidence:\n got %s\nwant %s", got, want)
				}
				if p.Freshness != (PartnerFreshness{Fresh: 1, GoingStale: 1, Stale: 1, NotCounted: 2}) {
					t.Errorf("freshness = %+v", p.Freshness)
				}
				for _, e := range p.Evidence {
					if e.Metric == "pipeline" && !strings.Contains(e.Detail, "untrusted") {
						t.Errorf("pipeline: %q, want untrusted", e.Detail)
					}
					if strings.Contains(e.Detail, "serviceaccount") || strings.Contains(e.Detail, "user:") {
						t.Errorf("%s names the identity that reported it: %q", e.Metric, e.Detail)
					}
				}
			},
		},
		"entitlements, each with where it comes from": {
			check: func(t *testing.T, p PartnerPage) {
				want := "Resell<-tier select; Funds<-tier select; CoSell<-exception request acme-cosell"
				if got := names(p.Entitlements); got != want {
					t.Errorf("entitlements:\n got %s\nwant %s", got, want)
				}
				if e := p.Entitlements[2]; e.Detail != "segments enterprise,public-sector" || e.Expires != "2026-12-23T12:00:00Z (in 30d)" {
					t.Errorf("CoSell = %+v", e)
				}
			},
		},
		"a suspended partner holds no entitlement": {
			change: func(f *pageFixture) { f.partner.Spec.Suspended = true },
			check: func(t *testing.T, p PartnerPage) {
				if !p.Suspended || len(p.Entitlements) != 0 {
					t.Errorf("suspended %v, entitlements %s", p.Suspended, names(p.Entitlements))
				}
			},
		},
		"open requests: only the partner's own under review, oldest first": {
			check: func(t *testing.T, p PartnerPage) {
				if got, want := names(p.OpenRequests), "acme-promote-premier; acme-q4-funds; acme-sync-certification"; got != want {
					t.Errorf("open requests:\n got %s\nwant %s", got, want)
				}
				r := p.OpenRequests[1]
				if r.Asks != "75000 USD" || r.Stage != "finance" || r.StageDeadline != "2026-11-25T12:00:00Z (in 2d)" || r.Submitted != "2026-11-23T09:00:00Z (3h ago)" {
					t.Errorf("funds request = %+v", r)
				}
				if a := p.OpenRequests[2].Asks; a != "Certification claim for sync" || p.OpenRequests[2].Stage != "-" {
					t.Errorf("claim request = %+v", p.OpenRequests[2])
				}
			},
		},
		"published listings: only the partner's own, by name": {
			check: func(t *testing.T, p PartnerPage) {
				if got, want := names(p.Listings), "acme-analytics; acme-sync"; got != want {
					t.Errorf("listings:\n got %s\nwant %s", got, want)
				}
				if l := p.Listings[1]; l.Versions != "1.0.0, 2.0.0" || l.Latest != "2.0.0" || l.Claims != "Certified" || l.Product != "acme-sync-product" {
					t.Errorf("listing = %+v", l)
				}
			},
		},
		"the program is gone": {
			change: func(f *pageFixture) { f.program = nil },
			check: func(t *testing.T, p PartnerPage) {
				if !p.ProgramMissing || p.Freshness.NotCounted != 5 || p.Next == nil || p.Next.Problem == "" {
					t.Errorf("missing %v freshness %+v next %+v", p.ProgramMissing, p.Freshness, p.Next)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newPageFixture()
			if tc.change != nil {
				tc.change(&f)
			}
			tc.check(t, f.page())
		})
	}
}

func renderFixturePage(t *testing.T) string {
	t.Helper()
	page, err := RenderPartnerPage(newPageFixture().page())
	if err != nil {
		t.Fatal(err)
	}
	return string(page)
}

func TestRenderPartnerPageIsSelfContained(t *testing.T) {
	html := renderFixturePage(t)
	for _, bad := range []string{"http://", "https://", "<script", "<link", "@import", "url(", "//fonts", "<img", "<iframe"} {
		if strings.Contains(strings.ToLower(html), bad) {
			t.Errorf("the page contains %q; it must not load anything:\n%s", bad, html)
		}
	}
	if !strings.HasPrefix(html, "<!DOCTYPE html>") {
		t.Errorf("the page does not start with a doctype:\n%.200s", html)
	}
	for _, id := range []string{chartPartnerProgressID, chartPartnerFreshnessID} {
		re := regexp.MustCompile(`<svg id="` + id + `" role="img" aria-label="[^"]+"[^>]*>\n<title>[^<]+</title>`)
		if !re.MatchString(html) {
			t.Errorf("chart %s has no <svg id> with an aria-label and a <title>:\n%s", id, html)
		}
	}
}

// TestRenderPartnerPageShowsNoOtherPartner: the page of acme is handed to acme;
// nothing of globex, of another namespace's acme, of an earlier partner named
// acme, or of another program's tiers may be on it.
func TestRenderPartnerPageShowsNoOtherPartner(t *testing.T) {
	f := newPageFixture()
	f.tiers = append(f.tiers, testTier("globex-only-tier", 1))
	f.tiers[len(f.tiers)-1].Spec.Program = "elsewhere"
	page, err := RenderPartnerPage(f.page())
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, other := range []string{"globex", "elsewhere", "earlier", "uid-", "because", "o@example.com"} {
		if strings.Contains(html, other) {
			t.Errorf("the page of acme contains %q:\n%s", other, html)
		}
	}
	// It does show acme's own.
	for _, own := range []string{"acme-q4-funds", "acme-sync", "acme-cosell"} {
		if !strings.Contains(html, own) {
			t.Errorf("the page of acme lacks %q", own)
		}
	}
}

func TestRenderPartnerPageShowsTheStanding(t *testing.T) {
	html := renderFixturePage(t)
	for _, want := range []string{
		"<title>partner standing: Acme Consulting</title>",
		"<h1>Acme Consulting: standing in partner program global</h1>",
		"Partner partners/acme (GSI). Generated 2026-11-23T12:00:00Z",
		"<tr><th>Tier</th><td>select (rank 1)</td></tr>",
		"<tr><th>Since</th><td>2026-11-21T12:00:00Z (2d ago), Promoted</td></tr>",
		"<tr><th>Current evidence qualifies for</th><td>select</td></tr>",
		"<tr><th>At risk</th><td>no</td></tr>",
		"<tr><th>Next deadline</th><td>2026-11-28T12:00:00Z (in 5d): evidence of training goes stale</td></tr>",
		// the next tier's progress chart: met in one colour, missing in another, 0 to 100%
		`aria-label="Next tier premier: share of each requirement reached. revenue: 15%, csat: 0%, training: 100%"`,
		`height="25" fill="` + colorMissing + `"/>`, // 15% of 170
		`height="170" fill="` + colorMet + `"/>`,
		"<title>csat: 0%</title>",
		`aria-label="Evidence freshness. fresh: 1, stale within 7d: 1, stale: 1, not counted: 2"`,
		`fill="` + colorNotCounted + `"/>`,
		// what the next tier needs
		"<p>Tier premier (rank 2): 2 of 3 requirements not met.</p>",
		`<tr><td>revenue</td><td>&gt;= 1000</td><td class="num">150 USD</td><td>fresh until 2027-02-21T11:00:00Z (in 89d)</td><td>no (15%)</td><td>850 more</td></tr>`,
		`<tr><td>csat</td><td>&gt; 4</td><td class="num">4.5 score</td><td>stale since 2026-11-22T12:00:00Z (24h ago); freshness window 1d</td><td>no (0%)</td><td>a current value of csat</td></tr>`,
		"<p>Tier select (rank 1): every requirement met.</p>",
		// evidence
		"Evidence entries: 5 (1 fresh, 1 going stale within 7 days, 1 stale, 2 not counted)",
		`<tr><td>training</td><td class="num">7 count</td><td>2026-10-29T12:00:00Z (25d ago)</td><td>stale within 7d</td><td>fresh until 2026-11-28T12:00:00Z (in 5d)</td></tr>`,
		`<td>not counted</td><td>not counted: untrusted (the reporter is no longer trusted by the catalog)</td>`,
		// entitlements and where they come from
		"<tr><td>Funds</td><td>cap 50000 USD/quarter</td><td>tier select</td><td>-</td></tr>",
		"<tr><td>CoSell</td><td>segments enterprise,public-sector</td><td>exception request acme-cosell</td><td>2026-12-23T12:00:00Z (in 30d)</td></tr>",
		// open requests
		"<tr><td>acme-q4-funds</td><td>Funds</td><td>75000 USD</td><td>2026-11-23T09:00:00Z (3h ago)</td><td>finance</td><td>2026-11-25T12:00:00Z (in 2d)</td></tr>",
		"<tr><td>acme-promote-premier</td><td>TierPromotion</td><td>tier premier</td>",
		// listings
		"<tr><td>acme-sync</td><td>acme-sync-product</td><td>App</td><td>2.0.0</td><td>1.0.0, 2.0.0</td><td>Certified</td></tr>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "acme-draft") {
		t.Errorf("the page lists an unpublished listing")
	}
}

func TestRenderPartnerPageWithoutData(t *testing.T) {
	f := newPageFixture()
	f.partner.Status = v1alpha1.PartnerStatus{}
	f.partner.Spec.DisplayName = ""
	f.tiers = []v1alpha1.PartnerTier{testTier("registered", 0)}
	f.requests, f.listings = nil, nil
	page, err := RenderPartnerPage(f.page())
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"<h1>acme: standing in partner program global</h1>",
		"<tr><th>Tier</th><td>none</td></tr>",
		"<tr><th>Since</th><td>-</td></tr>",
		"<p>Tier registered (rank 0): no requirements.</p>",
		">tier registered has no requirements</text>",
		">no evidence reported</text>",
		"<p>No tier is held.</p>",
		`<h2 class="section">Open requests</h2>` + "\n<p>none</p>",
		`<h2 class="section">Published listings</h2>` + "\n<p>none</p>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<rect") {
		t.Errorf("a page without data draws bars:\n%s", html)
	}

	// The top tier: no tier ranks higher.
	f = newPageFixture()
	f.partner.Status.Tier = "premier"
	page, _ = RenderPartnerPage(f.page())
	if !strings.Contains(string(page), "<p>No tier of program global ranks higher than premier.</p>") ||
		!strings.Contains(string(page), ">no tier of the program ranks higher</text>") {
		t.Errorf("the top tier's page does not say no tier ranks higher:\n%s", page)
	}
}

func TestRenderPartnerPageEscapesNames(t *testing.T) {
	f := newPageFixture()
	f.partner.Spec.DisplayName = `<b>"Acme"</b>`
	f.listings[0].Spec.Product = "<script>alert(1)</script>"
	f.requests[0].Spec.Grant.Claim.Product = `<img src=x onerror="alert(2)">`
	page, err := RenderPartnerPage(f.page())
	if err != nil {
		t.Fatal(err)
	}
	if s := string(page); strings.Contains(s, "<script>") || strings.Contains(s, `<b>"Acme"</b>`) || strings.Contains(s, "<img") {
		t.Errorf("names are not escaped:\n%s", s)
	}
}

package plugin

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// reportFixture is a fixed report: four tiers (select without partners) and
// untiered partners, seventeen evidence entries, six pending requests in three
// of the four age buckets, nine review decisions and four tier decisions.
func reportFixture() ReportData {
	sc := fullScorecard()
	sc.PartnersByTier = []v1alpha1.Count{
		{Name: "advanced", Count: 3}, {Name: "None", Count: 1}, {Name: "premier", Count: 2}, {Name: "registered", Count: 5},
	}
	tiers := []v1alpha1.PartnerTier{testTier("premier", 3), testTier("advanced", 2), testTier("registered", 0), testTier("select", 1)}
	return ReportData{
		Program:       "global",
		GeneratedAt:   now,
		Scorecard:     sc,
		Tiers:         tiersByRank("global", tiers, sc.PartnersByTier),
		TierDecisions: 4,
		Freshness:     Freshness{Fresh: 10, GoingStale: 4, Stale: 3},
		ExceptionAges: []AgeBucket{
			{Label: "<1d", Count: 2}, {Label: "1-3d", Count: 1}, {Label: "3-7d", Count: 0}, {Label: ">7d", Count: 3},
		},
		TopPartners: topFixture(),
	}
}

func TestRenderReportIsSelfContained(t *testing.T) {
	for name, d := range map[string]ReportData{
		"fixture":      reportFixture(),
		"no scorecard": {Program: "global", GeneratedAt: now},
	} {
		t.Run(name, func(t *testing.T) {
			page, err := RenderReport(d)
			if err != nil {
				t.Fatal(err)
			}
			html := string(page)
			for _, bad := range []string{"http://", "https://", "<script", "<link", "@import", "url(", "//fonts"} {
				if strings.Contains(strings.ToLower(html), bad) {
					t.Errorf("the report contains %q; it must not load anything:\n%s", bad, html)
				}
			}
			if !strings.HasPrefix(html, "<!DOCTYPE html>") {
				t.Errorf("the report does not start with a doctype:\n%.200s", html)
			}
			for _, id := range []string{chartTiersID, chartFreshnessID, chartExceptionsID, chartDealsID} {
				re := regexp.MustCompile(`<svg id="` + id + `" role="img" aria-label="[^"]+"[^>]*>\n<title>[^<]+</title>`)
				if !re.MatchString(html) {
					t.Errorf("chart %s has no <svg id> with an aria-label and a <title>:\n%s", id, html)
				}
			}
		})
	}
}

func TestRenderReportShowsTheFigures(t *testing.T) {
	page, err := RenderReport(reportFixture())
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"<title>partnergov report: global</title>",
		"<h1>Partner program global</h1>",
		"Report generated 2026-11-23T12:00:00Z",
		"Scorecard updated 2026-11-23T11:50:00Z (10m ago)",
		// tier chart, from scorecard.partnersByTier, by rank with the empty tier
		`aria-label="Partners by tier, lowest rank first. None: 1, registered: 5, select: 0, advanced: 3, premier: 2"`,
		"<title>registered: 5</title>",
		"<title>select: 0</title>",
		// the tallest bar fills the plot; the others are scaled to it
		`<rect x="408" y="50" width="69" height="170" fill="#7c3aed"/>`,
		`height="170" fill="` + colorTier + `"/>`,
		`height="102" fill="` + colorTier + `"/>`, // 3 of 5
		// freshness
		`aria-label="Evidence freshness. fresh: 10, stale within 7d: 4, stale: 3"`,
		`fill="` + colorFresh + `"`, `fill="` + colorGoingStale + `"`, `fill="` + colorStale + `"`,
		"17 (10 fresh, 4 going stale within 7 days, 3 stale)",
		// ageing
		`aria-label="Pending exception requests by age. &lt;1d: 2, 1-3d: 1, 3-7d: 0, &gt;7d: 3"`,
		"<title>&gt;7d: 3</title>",
		"Pending exception requests: 6.",
		// scorecard
		"<tr><th>Tier backed by current outcomes</th><td>75% of tiered partners</td></tr>",
		"<tr><th>SLA breaches</th><td>1</td></tr>",
		// both kinds of decisions, each saying what it counts
		`<tr><td>Review decisions</td><td class="num">9</td><td>each reviewer's Approve or Deny on a stage of an exception request`,
		`<tr><td>Tier decisions</td><td class="num">4</td><td>each change of a program partner's tier`,
		// the tier table, by rank
		"<tr><th>Tier</th><th>Rank</th><th>Partners</th></tr>\n" +
			`<tr><td>None</td><td class="num">-</td><td class="num">1</td></tr>` + "\n" +
			`<tr><td>registered</td><td class="num">0</td><td class="num">5</td></tr>` + "\n" +
			`<tr><td>select</td><td class="num">1</td><td class="num">0</td></tr>` + "\n" +
			`<tr><td>advanced</td><td class="num">2</td><td class="num">3</td></tr>` + "\n" +
			`<tr><td>premier</td><td class="num">3</td><td class="num">2</td></tr>` + "\n</table>",
		"<td>5 published, 2 unpublished, 1 low adoption</td>",
		`<tr><td>GSI</td><td class="num">3</td></tr>`,
		`<tr><td>Funds</td><td class="num">4</td></tr>`,
		"<tr><th>Metric</th><th>Aggregation</th><th>Value</th><th>Unit</th><th>Partners</th></tr>",
		`<tr><td>csat</td><td>Average</td><td class="num">4.25</td><td>score</td><td class="num">4</td></tr>`,
		`<tr><td>sourced-revenue</td><td>Sum</td><td class="num">1250000</td><td>USD</td><td class="num">3</td></tr>`,
		`<tr><td>win-rate</td><td>Sum</td><td class="num">80</td><td>percent</td><td class="num">1</td></tr>`,
		// deals: the phase chart, the figures, revenue per currency, tier and segment, top partners
		`aria-label="Deal registrations by phase. Approved: 3, Expired: 1, Queued: 2, Rejected: 1, Won: 5"`,
		`height="170" fill="` + colorDeal + `"/>`, // Won, the most
		"<tr><th>Registrations</th><td>12 (Approved 3, Expired 1, Queued 2, Rejected 1, Won 5)</td></tr>",
		"<tr><th>Conflict rate</th><td>25% of decided registrations</td></tr>",
		"<tr><th>Expiry rate</th><td>10% of approved registrations that ended</td></tr>",
		"<tr><th>Approval time (last 90 days)</th><td>p50 120m, p95 3d (9 registrations)</td></tr>",
		"<tr><th>Time to first revenue</th><td>median 45.5 days after joining (4 partners)</td></tr>",
		`<tr><td>USD</td><td class="num">4</td><td class="num">1250000</td><td class="num">300000</td><td class="num">100000</td><td class="num">12.5</td></tr>`,
		`<tr><td>EUR</td><td class="num">1</td><td class="num">80000</td><td class="num">0</td><td class="num">0</td><td class="num">- (no funds)</td></tr>`,
		"<h3>Won revenue by tier of the sourcing partner</h3>",
		`<tr><td>USD</td><td>advanced</td><td class="num">3</td><td class="num">1000000</td><td class="num">300000</td></tr>`,
		"<h3>Won revenue by customer segment</h3>",
		`<tr><td>USD</td><td>enterprise</td><td class="num">4</td><td class="num">1250000</td><td class="num">300000</td></tr>`,
		"2 more not listed: the scorecard keeps the largest 16 per currency.",
		`<tr><td>USD</td><td>partners/acme</td><td>advanced</td><td class="num">3</td><td class="num">1000000</td><td class="num">0</td><td>45.5 days after joining</td></tr>`,
		`<tr><td>USD</td><td>partners/helper</td><td>None</td><td class="num">0</td><td class="num">0</td><td class="num">300000</td><td>-</td></tr>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q:\n%s", want, html)
		}
	}
	// A bucket without requests draws no bar but still shows its zero.
	if got := strings.Count(html, `fill="`+colorException+`"`); got != 3 {
		t.Errorf("exception chart has %d bars, want 3 (the empty bucket draws none)", got)
	}
	if !strings.Contains(html, "<title>3-7d: 0</title>") {
		t.Errorf("the empty bucket is not labelled")
	}
}

func TestTiersByRank(t *testing.T) {
	retired := testTier("legacy", 1)
	retired.Spec.Retired = true
	elsewhere := testTier("aaa-other-program", 0)
	elsewhere.Spec.Program = "elsewhere"
	// Names in reverse alphabetical order of rank, so sorting by name shows.
	ladder := []v1alpha1.PartnerTier{testTier("alpha", 2), testTier("zulu", 0), testTier("mike", 1), retired, elsewhere}
	for name, tc := range map[string]struct {
		tiers   []v1alpha1.PartnerTier
		counted []v1alpha1.Count
		want    string
	}{
		"by rank, lowest first, ties by name, empty tiers shown": {
			tiers: ladder, counted: []v1alpha1.Count{{Name: "alpha", Count: 2}, {Name: "zulu", Count: 7}},
			want: "zulu(0)=7 legacy(1,retired)=0 mike(1)=0 alpha(2)=2",
		},
		"untiered partners first, below rank 0": {
			tiers: ladder, counted: []v1alpha1.Count{{Name: "None", Count: 3}, {Name: "mike", Count: 1}},
			want: "None(-)=3 zulu(0)=0 legacy(1,retired)=0 mike(1)=1 alpha(2)=0",
		},
		"a counted tier that no longer exists comes last": {
			tiers: ladder, counted: []v1alpha1.Count{{Name: "gone-b", Count: 1}, {Name: "gone-a", Count: 2}, {Name: "zulu", Count: 1}},
			want: "zulu(0)=1 legacy(1,retired)=0 mike(1)=0 alpha(2)=0 gone-a(-)=2 gone-b(-)=1",
		},
		"no scorecard yet: every tier at zero": {
			tiers: ladder,
			want:  "zulu(0)=0 legacy(1,retired)=0 mike(1)=0 alpha(2)=0",
		},
		"no tiers and no counts": {want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, c := range tiersByRank("global", tc.tiers, tc.counted) {
				s := fmt.Sprintf("%s(%s", c.Name, c.RankText())
				if c.Retired {
					s += ",retired"
				}
				got = append(got, fmt.Sprintf("%s)=%d", s, c.Count))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("tiersByRank = %s\nwant          %s", g, tc.want)
			}
		})
	}
}

func TestTierDecisionsCountsTheProgramsTierChangesOfTheLast30Days(t *testing.T) {
	day := 24 * time.Hour
	rec := func(typ recordsv1alpha1.DecisionType, program string, ago time.Duration) recordsv1alpha1.DecisionRecord {
		return recordsv1alpha1.DecisionRecord{Spec: recordsv1alpha1.DecisionRecordSpec{Type: typ, Program: program, Time: metav1.NewTime(now.Add(-ago))}}
	}
	for name, tc := range map[string]struct {
		records []recordsv1alpha1.DecisionRecord
		want    int
	}{
		"tier changes within the window": {
			records: []recordsv1alpha1.DecisionRecord{rec(recordsv1alpha1.DecisionTierChange, "global", 0), rec(recordsv1alpha1.DecisionTierChange, "global", day),
				rec(recordsv1alpha1.DecisionTierChange, "global", 30*day-time.Second)},
			want: 3,
		},
		"exactly 30 days ago and older are out": {
			records: []recordsv1alpha1.DecisionRecord{rec(recordsv1alpha1.DecisionTierChange, "global", 30*day), rec(recordsv1alpha1.DecisionTierChange, "global", 31*day)},
			want:    0,
		},
		"a future time is out": {
			records: []recordsv1alpha1.DecisionRecord{rec(recordsv1alpha1.DecisionTierChange, "global", -time.Minute)},
		},
		"review decisions and other kinds are not tier decisions": {
			records: []recordsv1alpha1.DecisionRecord{rec(recordsv1alpha1.DecisionStageDecision, "global", day), rec(recordsv1alpha1.DecisionRequestOutcome, "global", day),
				rec(recordsv1alpha1.DecisionGrantExpiry, "global", day), rec(recordsv1alpha1.DecisionListingPublication, "global", day),
				rec(recordsv1alpha1.DecisionTierChange, "global", day)},
			want: 1,
		},
		"another program's tier changes are not counted": {
			records: []recordsv1alpha1.DecisionRecord{rec(recordsv1alpha1.DecisionTierChange, "elsewhere", day), rec(recordsv1alpha1.DecisionTierChange, "", day)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tierDecisions("global", tc.records, now); got != tc.want {
				t.Errorf("tierDecisions = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRenderReportWithoutData(t *testing.T) {
	page, err := RenderReport(ReportData{Program: "global", GeneratedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"PartnerProgram global has no scorecard yet",
		">no partners counted in the scorecard</text>",
		">no evidence reported</text>",
		">no pending exception requests</text>",
		">no deal registrations counted in the scorecard</text>",
		"No deal figures yet",
		"Scorecard updated -.",
		`<tr><td>Review decisions</td><td class="num">-</td>`,
		`<tr><td>Tier decisions</td><td class="num">0</td>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<rect") {
		t.Errorf("a report without data draws bars:\n%s", html)
	}
}

func TestRenderReportEscapesNames(t *testing.T) {
	d := reportFixture()
	d.Program = `<b>"x"</b>`
	d.Scorecard.PartnersByTier = []v1alpha1.Count{{Name: "<script>alert(1)</script>", Count: 1}}
	d.Scorecard.Deals.Currencies[0].BySegment[0].Name = "<script>alert(2)</script>"
	d.TopPartners[0].Name = `<img src=x onerror="alert(3)">`
	page, err := RenderReport(d)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(page); strings.Contains(s, "<script>") || strings.Contains(s, `<b>"x"</b>`) || strings.Contains(s, "<img") {
		t.Errorf("names are not escaped:\n%s", s)
	}
}

func TestEvidenceFreshness(t *testing.T) {
	day := 24 * time.Hour
	def := func(name string, window time.Duration) v1alpha1.MetricDefinition {
		return v1alpha1.MetricDefinition{Name: name, FreshnessWindow: metav1.Duration{Duration: window}}
	}
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "global"},
		Spec: v1alpha1.PartnerProgramSpec{Metrics: []v1alpha1.MetricDefinition{def("revenue", 90*day), def("training", 30*day)}}}
	entry := func(metric string, ago time.Duration) v1alpha1.EvidenceEntry {
		return v1alpha1.EvidenceEntry{Metric: metric, Value: "1", ObservedAt: metav1.NewTime(now.Add(-ago))}
	}
	partner := func(program string, entries ...v1alpha1.EvidenceEntry) v1alpha1.Partner {
		p := v1alpha1.Partner{Spec: v1alpha1.PartnerSpec{Program: program}}
		p.Status.Evidence = entries
		return p
	}
	partners := []v1alpha1.Partner{
		partner("global",
			entry("revenue", day),      // 89d left: fresh
			entry("revenue", 83*day-1), // just over 7d left: fresh
			entry("training", 23*day),  // exactly 7d left: going stale
			entry("training", 29*day),  // 1d left: going stale
			entry("revenue", 90*day),   // stale at now
			entry("training", 31*day),  // stale
			entry("unknown", day)),     // not in the catalog: not counted
		partner("other", entry("revenue", day)), // another program's partner
		partner("global"),
	}
	got := evidenceFreshness(program, partners, now)
	if want := (Freshness{Fresh: 2, GoingStale: 2, Stale: 2}); got != want {
		t.Errorf("evidenceFreshness = %+v, want %+v", got, want)
	}
}

func TestExceptionAgeing(t *testing.T) {
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "global"}}
	partners := []v1alpha1.Partner{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "acme"}, Spec: v1alpha1.PartnerSpec{Program: "global"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "other"}, Spec: v1alpha1.PartnerSpec{Program: "other"}},
	}
	request := func(ns, partner string, age time.Duration, phase v1alpha1.RequestPhase) v1alpha1.ExceptionRequest {
		r := v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, CreationTimestamp: metav1.NewTime(now.Add(-age))}}
		r.Spec.Partner, r.Status.Phase = partner, phase
		return r
	}
	h := time.Hour
	requests := []v1alpha1.ExceptionRequest{
		request("a", "acme", h, ""),                         // <1d (no phase yet)
		request("a", "acme", 23*h, v1alpha1.PhasePending),   // <1d
		request("a", "acme", 24*h, v1alpha1.PhasePending),   // 1-3d
		request("a", "acme", 71*h, v1alpha1.PhasePending),   // 1-3d
		request("a", "acme", 100*h, v1alpha1.PhasePending),  // 3-7d
		request("a", "acme", 168*h, v1alpha1.PhasePending),  // >7d
		request("a", "acme", 400*h, v1alpha1.PhaseApproved), // decided: not counted
		request("a", "other", h, v1alpha1.PhasePending),     // another program
		request("b", "acme", h, v1alpha1.PhasePending),      // same name, another namespace: not a member
	}
	got := exceptionAgeing(program, partners, requests, now)
	want := []AgeBucket{{"<1d", 2}, {"1-3d", 2}, {"3-7d", 1}, {">7d", 1}}
	if len(got) != len(want) {
		t.Fatalf("exceptionAgeing = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("exceptionAgeing = %+v, want %+v", got, want)
			break
		}
	}
}

func TestPlanAttainmentCountsTheGoalsOfTheProgramsApprovedPlans(t *testing.T) {
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "global"}}
	partner := func(ns, name, prog string) v1alpha1.Partner {
		return v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.PartnerSpec{Program: prog}}
	}
	plan := func(ns, partner string, phase v1alpha1.PlanPhase, states ...v1alpha1.GoalState) v1alpha1.JointBusinessPlan {
		p := v1alpha1.JointBusinessPlan{ObjectMeta: metav1.ObjectMeta{Namespace: ns}, Spec: v1alpha1.JointBusinessPlanSpec{Partner: partner}}
		p.Status.Phase = phase
		for _, s := range states {
			p.Status.Goals = append(p.Status.Goals, v1alpha1.GoalProgress{State: s})
		}
		return p
	}
	partners := []v1alpha1.Partner{partner("a", "acme", "global"), partner("b", "acme", "other")}
	plans := []v1alpha1.JointBusinessPlan{
		plan("a", "acme", v1alpha1.PlanApproved, v1alpha1.GoalMet, v1alpha1.GoalBehind, v1alpha1.GoalOnTrack, v1alpha1.GoalMet),
		plan("a", "acme", v1alpha1.PlanPendingApproval, v1alpha1.GoalMet), // not approved
		plan("a", "acme", v1alpha1.PlanEnded, v1alpha1.GoalBehind),        // over
		plan("b", "acme", v1alpha1.PlanApproved, v1alpha1.GoalBehind),     // another program's partner
		plan("a", "gone", v1alpha1.PlanApproved, v1alpha1.GoalBehind),     // no such partner
	}
	got := planAttainment(program, partners, plans)
	if want := (PlanAttainment{Plans: 1, Met: 2, OnTrack: 1, Behind: 1}); got != want {
		t.Errorf("planAttainment = %+v, want %+v", got, want)
	}
	html, err := RenderReport(ReportData{Program: "global", GeneratedAt: now, Plans: got})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="` + chartPlansID + `"`, "Plan attainment: goals of 1 approved plans", "<title>behind: 1</title>"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

package plugin

import (
	"bytes"
	"fmt"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/scorecard"
)

// Chart element ids of the report; tests and the screenshot test look for them.
const (
	chartTiersID      = "chart-tiers"
	chartFreshnessID  = "chart-freshness"
	chartExceptionsID = "chart-exceptions"
	chartDealsID      = "chart-deals"
	chartPlansID      = "chart-plans"
)

// Bar fill colours of the report's charts. Each is used only for bars, so the
// screenshot test can find the charts in the rendered page by their pixels.
const (
	colorTier       = "#2563eb" // blue
	colorFresh      = "#16a34a" // green
	colorGoingStale = "#f59e0b" // amber
	colorStale      = "#dc2626" // red
	colorException  = "#7c3aed" // purple
	colorDeal       = "#0d9488" // teal
)

// goingStaleWithin is how close to its staleness an evidence entry is "going stale".
const goingStaleWithin = 7 * 24 * time.Hour

// Freshness counts a program's evidence entries by how long they still count.
type Freshness struct {
	// Fresh entries stay current for more than seven days.
	Fresh int
	// GoingStale entries are current now but go stale within seven days.
	GoingStale int
	// Stale entries are past their metric's freshness window.
	Stale int
}

// AgeBucket is a number of pending exception requests of an age range.
type AgeBucket struct {
	Label string
	Count int
}

// TierCount is how many partners hold a tier, as the scorecard counted them.
type TierCount struct {
	Name string
	// Rank of the tier; nil for untiered partners and for a tier that no longer exists.
	Rank *int32
	// Retired is true for a tier being drained (spec.retired).
	Retired bool
	Count   int
}

// RankText prints the tier's rank, or "-".
func (t TierCount) RankText() string {
	if t.Rank == nil {
		return none
	}
	return fmt.Sprint(*t.Rank)
}

// ReportData is everything a report shows; RenderReport draws it.
type ReportData struct {
	Program     string
	GeneratedAt time.Time
	Scorecard   *v1alpha1.Scorecard
	// Tiers are every tier of the program with the partners the scorecard
	// counted in it, lowest rank first (tiersByRank), empty tiers included.
	Tiers []TierCount
	// TierDecisions counts the tier changes of the program's partners recorded
	// in DecisionRecords in the last 30 days (tierDecisions).
	TierDecisions int
	Freshness     Freshness
	// ExceptionAges are the pending requests by age bucket, youngest first.
	ExceptionAges []AgeBucket
	// Plans counts the goals of the program's approved, current joint business
	// plans by state (planAttainment).
	Plans PlanAttainment
	// TopPartners are the partners with the most sourced revenue per currency
	// (scorecard.TopPartners), from the live deal registrations.
	TopPartners []scorecard.PartnerRevenue
	// Phases counts the program's partners by lifecycle phase (partnersByPhase).
	Phases []StageCount
	// Onboarding is the program's onboarding funnel (onboardingFunnel).
	Onboarding []StageCount
}

// reportView is what the template renders.
type reportView struct {
	ReportData
	Generated string
	Updated   string
	Outcome   string
	HasScore  bool
	Score     v1alpha1.Scorecard
	Charts    []barChart
	// ReviewDecisions is the scorecard's decisionsLast30Days, or "-" without a scorecard.
	ReviewDecisions string
	PendingSum      int
	EvidenceSum     int
	// Deals are the scorecard's deal figures worded for people; nil without them.
	Deals *dealsView
}

// dealsView is the report's deals section.
type dealsView struct {
	Facts             []dealFact
	Currencies        []v1alpha1.DealCurrency
	OmittedCurrencies int32
	// Tiers and Segments flatten every currency's groups; Omitted* count those
	// the scorecard left out at MaxGroups per currency.
	Tiers, Segments               []dealGroup
	OmittedTiers, OmittedSegments int32
	MaxGroups                     int
	// ReturnOnInvestmentText is the ROPI of each currency, worded.
	ReturnOnInvestmentText map[string]string
}

// RenderReport returns the report as one self-contained HTML page: inline CSS
// and inline SVG, no scripts and no external resources.
func RenderReport(d ReportData) ([]byte, error) {
	v := reportView{ReportData: d, Generated: d.GeneratedAt.UTC().Format(time.RFC3339), Updated: none, Outcome: none, ReviewDecisions: none}
	v.HasScore = !emptyScorecard(d.Scorecard)
	if v.HasScore {
		v.Score = *d.Scorecard
		v.ReviewDecisions = fmt.Sprint(v.Score.DecisionsLast30Days)
		if t := v.Score.UpdatedAt; t != nil && !t.IsZero() {
			v.Updated = t.UTC().Format(time.RFC3339) + " (" + relative(t.Time, d.GeneratedAt) + ")"
		}
		if p := v.Score.OutcomeBackedPercent; p != nil {
			v.Outcome = fmt.Sprintf("%d%% of tiered partners", *p)
		}
	}

	var tierLabels []string
	var tierCounts []int
	for _, c := range d.Tiers {
		tierLabels = append(tierLabels, orNone(c.Name))
		tierCounts = append(tierCounts, c.Count)
	}
	f := d.Freshness
	v.EvidenceSum = f.Fresh + f.GoingStale + f.Stale
	var ageLabels []string
	var ageCounts []int
	for _, b := range d.ExceptionAges {
		ageLabels = append(ageLabels, b.Label)
		ageCounts = append(ageCounts, b.Count)
		v.PendingSum += b.Count
	}
	var phaseLabels []string
	var phaseCounts []int
	if sc := d.Scorecard; sc != nil && sc.Deals != nil {
		dv := &dealsView{Facts: dealFacts(sc.Deals), Currencies: sc.Deals.Currencies, OmittedCurrencies: sc.Deals.OmittedCurrencies,
			MaxGroups: v1alpha1.MaxDealGroups, ReturnOnInvestmentText: map[string]string{}}
		dv.Tiers, dv.OmittedTiers = dealGroups(sc.Deals, false)
		dv.Segments, dv.OmittedSegments = dealGroups(sc.Deals, true)
		for _, c := range sc.Deals.Currencies {
			dv.ReturnOnInvestmentText[c.Currency] = ropi(c)
		}
		v.Deals = dv
		for _, c := range sc.Deals.ByPhase {
			phaseLabels = append(phaseLabels, c.Name)
			phaseCounts = append(phaseCounts, int(c.Count))
		}
	}
	v.Charts = []barChart{
		newBarChart(chartTiersID, "Partners by tier, lowest rank first", "no partners counted in the scorecard",
			tierLabels, tierCounts, []string{colorTier}),
		newBarChart(chartFreshnessID, "Evidence freshness", "no evidence reported",
			[]string{"fresh", "stale within 7d", "stale"}, []int{f.Fresh, f.GoingStale, f.Stale},
			[]string{colorFresh, colorGoingStale, colorStale}),
		newBarChart(chartExceptionsID, "Pending exception requests by age", "no pending exception requests",
			ageLabels, ageCounts, []string{colorException}),
		newBarChart(chartDealsID, "Deal registrations by phase", "no deal registrations counted in the scorecard",
			phaseLabels, phaseCounts, []string{colorDeal}),
		newBarChart(chartPlansID, fmt.Sprintf("Plan attainment: goals of %d approved plans", d.Plans.Plans), "no approved joint business plan",
			[]string{"met", "on track", "behind"}, []int{d.Plans.Met, d.Plans.OnTrack, d.Plans.Behind},
			[]string{colorFresh, colorGoingStale, colorStale}),
	}
	v.Charts = append(v.Charts, lifecycleCharts(d)...)
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pageParts are the templates the program report and the partner page share:
// "style", the inline stylesheet, and "chart", one barChart as an inline SVG
// figure.
const pageParts = `{{define "style"}}<style>
body { font-family: sans-serif; margin: 24px; color: #1f2933; background: #ffffff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 24px 0 8px; }
h2.section { border-left: 6px solid #334e68; padding-left: 8px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p.meta { color: #52606d; margin: 0 0 16px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 12px; }
figure { margin: 0; border: 1px solid #d9e2ec; padding: 8px; }
figcaption { color: #52606d; font-size: 13px; }
svg text { font-family: sans-serif; font-size: 13px; fill: #1f2933; }
svg text.heading { font-size: 16px; font-weight: bold; }
table { border-collapse: collapse; margin-bottom: 8px; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #e4e7eb; }
td.num { text-align: right; }
#decisions td:first-child { white-space: nowrap; }
</style>
{{- end}}
{{define "chart"}}<figure>
<svg id="{{.ID}}" role="img" aria-label="{{.Desc}}" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
<title>{{.Desc}}</title>
<text class="heading" x="{{.AxisX1}}" y="24">{{.Title}}</text>
<line x1="{{.AxisX1}}" y1="{{.BaseY}}" x2="{{.AxisX2}}" y2="{{.BaseY}}" stroke="#9aa5b1" stroke-width="1"/>
{{- if .Empty}}
<text x="{{.EmptyX}}" y="{{.EmptyY}}" text-anchor="middle">{{.Empty}}</text>
{{- end}}
{{- range .Bars}}
<g class="bar">
<title>{{.Label}}: {{.Text}}</title>
{{- if .H}}
<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"/>
{{- end}}
<text x="{{.MidX}}" y="{{.ValueY}}" text-anchor="middle">{{.Text}}</text>
<text x="{{.MidX}}" y="{{.LabelY}}" text-anchor="middle">{{.Label}}</text>
</g>
{{- end}}
</svg>
</figure>
{{- end}}
`

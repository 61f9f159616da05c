package plugin

import (
	"bytes"
	"fmt"
	"html/template"
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
	// TopPartners are the partners with the most sourced revenue per currency
	// (scorecard.TopPartners), from the live deal registrations.
	TopPartners []scorecard.PartnerRevenue
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
	}
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

// groupTable is a titled table of revenue by tier or segment in the report.
type groupTable struct {
	Title, Column string
	Rows          []dealGroup
	Omitted       int32
	Max           int
}

// countTable is a titled table of counts in the report.
type countTable struct {
	Title, Column string
	Counts        []v1alpha1.Count
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"aggregation":  aggregation,
	"firstRevenue": firstRevenue,
	"counts": func(title, column string, c []v1alpha1.Count) countTable {
		return countTable{Title: title, Column: column, Counts: c}
	},
	"groups": func(title, column string, rows []dealGroup, omitted int32, maxRows int) groupTable {
		return groupTable{Title: title, Column: column, Rows: rows, Omitted: omitted, Max: maxRows}
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>partnergov report: {{.Program}}</title>
{{template "style"}}
</head>
<body>
<h1>Partner program {{.Program}}</h1>
<p class="meta">Report generated {{.Generated}} by kubectl partnergov. Scorecard updated {{.Updated}}.</p>
<section class="charts">
{{- range .Charts}}
{{template "chart" .}}
{{- end}}
</section>
<p class="meta">Evidence entries: {{.EvidenceSum}} ({{.Freshness.Fresh}} fresh, {{.Freshness.GoingStale}} going stale within 7 days, {{.Freshness.Stale}} stale). Pending exception requests: {{.PendingSum}}.</p>
<h2>Partners by tier</h2>
<p class="meta">Every tier of the program, lowest rank first, with the partners the scorecard counts in it.</p>
{{- if .Tiers}}
<table id="tiers">
<tr><th>Tier</th><th>Rank</th><th>Partners</th></tr>
{{- range .Tiers}}
<tr><td>{{.Name}}{{if .Retired}} (retired){{end}}</td><td class="num">{{.RankText}}</td><td class="num">{{.Count}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
<h2>Decisions in the last 30 days</h2>
<table id="decisions">
<tr><th>Decisions</th><th>Count</th><th>What is counted</th></tr>
<tr><td>Review decisions</td><td class="num">{{.ReviewDecisions}}</td><td>each reviewer's Approve or Deny on a stage of an exception request of the program's partners (status.scorecard, as of its update)</td></tr>
<tr><td>Tier decisions</td><td class="num">{{.TierDecisions}}</td><td>each change of a program partner's tier: a first tier, a promotion or a demotion, by evidence or by an exception (TierChange DecisionRecords, as of this report)</td></tr>
</table>
<h2>Scorecard</h2>
{{- if not .HasScore}}
<p>PartnerProgram {{.Program}} has no scorecard yet: the controller has not computed status.scorecard.</p>
{{- else}}
<table id="scorecard">
<tr><th>Tier backed by current outcomes</th><td>{{.Outcome}}</td></tr>
<tr><th>SLA breaches</th><td>{{.Score.SLABreaches}}</td></tr>
<tr><th>Listings</th><td>{{.Score.ListingsPublished}} published, {{.Score.ListingsUnpublished}} unpublished, {{.Score.ListingsLowAdoption}} low adoption</td></tr>
</table>
{{- template "counts" (counts "Partners by type" "Type" .Score.PartnersByType)}}
{{- template "counts" (counts "Open requests by type" "Type" .Score.OpenRequestsByType)}}
<h2>Outcome metrics across partners (current evidence)</h2>
{{- if .Score.OutcomeTotals}}
<table>
<tr><th>Metric</th><th>Aggregation</th><th>Value</th><th>Unit</th><th>Partners</th></tr>
{{- range .Score.OutcomeTotals}}
<tr><td>{{.Metric}}</td><td>{{aggregation .}}</td><td class="num">{{.Total}}</td><td>{{.Unit}}</td><td class="num">{{.Partners}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
{{- end}}
<h2>Deal registration</h2>
{{- with .Deals}}
<table id="deals">
{{- range .Facts}}
<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table>
<h3>Won revenue and committed funds by currency</h3>
<p class="meta">Sourced revenue is credited to the registering partner, influenced revenue is the won amount of deals other partners influenced (each deal once); the two are never added, and no figure adds currencies. Return on partner investment is sourced revenue over committed funds (approved Funds requests).</p>
{{- if .Currencies}}
<table>
<tr><th>Currency</th><th>Won deals</th><th>Sourced</th><th>Influenced</th><th>Committed funds</th><th>Return on investment</th></tr>
{{- range .Currencies}}
<tr><td>{{.Currency}}</td><td class="num">{{.WonDeals}}</td><td class="num">{{.Sourced}}</td><td class="num">{{.Influenced}}</td><td class="num">{{.CommittedFunds}}</td><td class="num">{{index $.Deals.ReturnOnInvestmentText .Currency}}</td></tr>
{{- end}}
</table>
{{- if .OmittedCurrencies}}
<p class="meta">{{.OmittedCurrencies}} more currencies are not listed.</p>
{{- end}}
{{- else}}
<p>none</p>
{{- end}}
{{- template "groups" (groups "Won revenue by tier of the sourcing partner" "Tier" .Tiers .OmittedTiers .MaxGroups)}}
{{- template "groups" (groups "Won revenue by customer segment" "Segment" .Segments .OmittedSegments .MaxGroups)}}
{{- else}}
<p>No deal figures yet: the program's partners have no deal registrations or approved funds, or the controller has not computed status.scorecard.deals.</p>
{{- end}}
<h3>Top partners by sourced revenue</h3>
{{- if .TopPartners}}
<table id="top-partners">
<tr><th>Currency</th><th>Partner</th><th>Tier</th><th>Won deals</th><th>Sourced</th><th>Influenced</th><th>Time to first revenue</th></tr>
{{- range .TopPartners}}
<tr><td>{{.Currency}}</td><td>{{.Namespace}}/{{.Name}}</td><td>{{.Tier}}</td><td class="num">{{.WonDeals}}</td><td class="num">{{.Sourced}}</td><td class="num">{{.Influenced}}</td><td>{{firstRevenue .}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
</body>
</html>
{{define "groups"}}
<h3>{{.Title}}</h3>
{{- if .Rows}}
<table>
<tr><th>Currency</th><th>{{.Column}}</th><th>Won deals</th><th>Sourced</th><th>Influenced</th></tr>
{{- range .Rows}}
<tr><td>{{.Currency}}</td><td>{{.Name}}</td><td class="num">{{.WonDeals}}</td><td class="num">{{.Sourced}}</td><td class="num">{{.Influenced}}</td></tr>
{{- end}}
</table>
{{- if .Omitted}}
<p class="meta">{{.Omitted}} more not listed: the scorecard keeps the largest {{.Max}} per currency.</p>
{{- end}}
{{- else}}
<p>none</p>
{{- end}}
{{- end}}
{{define "counts"}}
<h2>{{.Title}}</h2>
{{- if .Counts}}
<table>
<tr><th>{{.Column}}</th><th>Count</th></tr>
{{- range .Counts}}
<tr><td>{{.Name}}</td><td class="num">{{.Count}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
{{- end}}
` + pageParts))

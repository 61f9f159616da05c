package plugin

import (
	"html/template"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

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

package plugin

import (
	"bytes"
	"fmt"
	"html/template"
	"time"
)

// Chart element ids of the partner page.
const (
	chartPartnerProgressID  = "chart-partner-progress"
	chartPartnerFreshnessID = "chart-partner-freshness"
)

// Bar fill colours of the partner page's charts, each used only for its bars so
// the screenshot test can find them (with colorFresh, colorGoingStale and
// colorStale for the freshness chart).
const (
	colorMet        = "#0284c7" // sky: a requirement of the next tier that is met
	colorMissing    = "#c026d3" // fuchsia: one that is not, by how much of it is reached
	colorNotCounted = "#64748b" // slate: evidence that does not count
)

// partnerView is what the partner page template renders.
type partnerView struct {
	PartnerPage
	Generated string
	TierText  string
	SinceText string
	Deadline  string
	Charts    []barChart
	// EvidenceSum is the number of evidence entries.
	EvidenceSum int
}

// RenderPartnerPage returns a partner's standing as one self-contained HTML
// page: inline CSS and inline SVG, no scripts and no external resources.
func RenderPartnerPage(d PartnerPage) ([]byte, error) {
	v := partnerView{PartnerPage: d, Generated: d.GeneratedAt.UTC().Format(time.RFC3339), TierText: "none", SinceText: none,
		Deadline: deadlineText(d.NextDeadline, d.GeneratedAt)}
	if d.Tier != "" {
		v.TierText = d.Tier
		if d.TierRank != nil {
			v.TierText += fmt.Sprintf(" (rank %d)", *d.TierRank)
		}
		if d.Since != nil {
			v.SinceText = timestamp(ptrTime(*d.Since), d.GeneratedAt)
		}
		if d.SinceReason != "" {
			v.SinceText += ", " + d.SinceReason
		}
	}

	progressTitle, progressEmpty := "Next tier: none above", "no tier of the program ranks higher"
	var labels []string
	var percents []int
	var colors []string
	if n := d.Next; n != nil {
		progressTitle = fmt.Sprintf("Next tier %s: share of each requirement reached", n.Name)
		progressEmpty = "no requirement of tier " + n.Name + " is reached yet"
		if len(n.Requirements) == 0 {
			progressEmpty = "tier " + n.Name + " has no requirements"
		}
		for _, r := range n.Requirements {
			labels = append(labels, r.Metric)
			percents = append(percents, r.Progress)
			if r.Met {
				colors = append(colors, colorMet)
			} else {
				colors = append(colors, colorMissing)
			}
		}
	}
	if len(colors) == 0 {
		colors = []string{colorMissing}
	}
	f := d.Freshness
	v.EvidenceSum = f.Fresh + f.GoingStale + f.Stale + f.NotCounted
	v.Charts = []barChart{
		newPercentChart(chartPartnerProgressID, progressTitle, progressEmpty, labels, percents, colors),
		newBarChart(chartPartnerFreshnessID, "Evidence freshness", "no evidence reported",
			[]string{stateFresh, stateGoingStale, stateStale, stateNotCounted}, []int{f.Fresh, f.GoingStale, f.Stale, f.NotCounted},
			[]string{colorFresh, colorGoingStale, colorStale, colorNotCounted}),
	}
	var buf bytes.Buffer
	if err := partnerTemplate.Execute(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var partnerTemplate = template.Must(template.New("partner").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>partner standing: {{.Title}}</title>
{{template "style"}}
</head>
<body>
<h1>{{.Title}}: standing in partner program {{.Program}}</h1>
<p class="meta">Partner {{.Namespace}}/{{.Name}} ({{.Type}}). Generated {{.Generated}} by kubectl partnergov from the program's records.</p>
<table id="standing">
<tr><th>Tier</th><td>{{.TierText}}</td></tr>
<tr><th>Since</th><td>{{.SinceText}}</td></tr>
<tr><th>Current evidence qualifies for</th><td>{{if .QualifiedTier}}{{.QualifiedTier}}{{else}}none{{end}}</td></tr>
<tr><th>At risk</th><td>{{if .AtRisk}}{{.AtRisk}}{{else}}no{{end}}</td></tr>
{{- if .Promotion}}
<tr><th>Promotion</th><td>{{.Promotion}}</td></tr>
{{- end}}
<tr><th>Next deadline</th><td>{{.Deadline}}</td></tr>
{{- if .Suspended}}
<tr><th>Suspended</th><td>yes: no entitlement is in force and no listing is published</td></tr>
{{- end}}
</table>
{{- if .ProgramMissing}}
<p>Partner program {{.Program}} does not exist: the tier and entitlements are left as they were, and no requirement can be met.</p>
{{- end}}
<section class="charts">
{{- range .Charts}}
{{template "chart" .}}
{{- end}}
</section>
<h2 class="section" id="next">What the next tier needs</h2>
{{- with .Next}}
{{template "needs" .}}
{{- else}}
<p>No tier of program {{.Program}} ranks higher{{if .Tier}} than {{.Tier}}{{end}}.</p>
{{- end}}
<h2 class="section" id="current">What the current tier needs</h2>
{{- with .Current}}
{{template "needs" .}}
{{- else}}
<p>{{if .Tier}}Tier {{.Tier}} no longer exists in program {{.Program}}.{{else}}No tier is held.{{end}}</p>
{{- end}}
<h2 class="section">Evidence freshness</h2>
<p class="meta">Evidence entries: {{.EvidenceSum}} ({{.Freshness.Fresh}} fresh, {{.Freshness.GoingStale}} going stale within 7 days, {{.Freshness.Stale}} stale, {{.Freshness.NotCounted}} not counted). Only fresh evidence from a reporter the catalog trusts counts towards a tier.</p>
{{- if .Evidence}}
<table id="evidence">
<tr><th>Metric</th><th>Value</th><th>Observed</th><th>State</th><th>Detail</th></tr>
{{- range .Evidence}}
<tr><td>{{.Metric}}</td><td class="num">{{.Value}}</td><td>{{.Observed}}</td><td>{{.State}}</td><td>{{.Detail}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
<h2 class="section">Entitlements</h2>
{{- if .Suspended}}
<p>None while the partner is suspended.</p>
{{- else if .Entitlements}}
<table id="entitlements">
<tr><th>Entitlement</th><th>Detail</th><th>Comes from</th><th>Expires</th></tr>
{{- range .Entitlements}}
<tr><td>{{.Name}}</td><td>{{.Detail}}</td><td>{{.Source}}</td><td>{{.Expires}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
<h2 class="section">Open requests</h2>
{{- if .OpenRequests}}
<table id="requests">
<tr><th>Request</th><th>Type</th><th>Asks for</th><th>Submitted</th><th>Waiting on stage</th><th>Stage deadline</th></tr>
{{- range .OpenRequests}}
<tr><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Asks}}</td><td>{{.Submitted}}</td><td>{{.Stage}}</td><td>{{.StageDeadline}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
<h2 class="section">Published listings</h2>
{{- if .Listings}}
<table id="listings">
<tr><th>Listing</th><th>Product</th><th>Kind</th><th>Latest version</th><th>Published versions</th><th>Claims shown</th></tr>
{{- range .Listings}}
<tr><td>{{.Name}}</td><td>{{.Product}}</td><td>{{.Kind}}</td><td>{{.Latest}}</td><td>{{.Versions}}</td><td>{{.Claims}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>none</p>
{{- end}}
</body>
</html>
{{define "needs"}}
<p>Tier {{.Name}} (rank {{.Rank}}):
{{- if .Problem}} cannot be earned: {{.Problem}}
{{- else if not .Requirements}} no requirements.
{{- else if .Unmet}} {{.Unmet}} of {{len .Requirements}} requirements not met.
{{- else}} every requirement met.
{{- end}}
{{- if .ReviewPath}} A promotion to it also needs an approved review (review path {{.ReviewPath}}).{{end}}</p>
{{- if .Requirements}}
<table class="needs">
<tr><th>Metric</th><th>Requirement</th><th>Value</th><th>Evidence</th><th>Met</th><th>Missing</th></tr>
{{- range .Requirements}}
<tr><td>{{.Metric}}</td><td>{{.Requirement}}</td><td class="num">{{.Value}}</td><td>{{.Evidence}}</td><td>{{if .Met}}yes{{else}}no ({{.Progress}}%){{end}}</td><td>{{if .Missing}}{{.Missing}}{{else}}-{{end}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- end}}
` + pageParts))

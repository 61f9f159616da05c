package plugin

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/scorecard"
)

func fullScorecard() *v1alpha1.Scorecard {
	updated := metav1.NewTime(now.Add(-10 * 60 * 1e9))
	pct := int32(75)
	return &v1alpha1.Scorecard{
		UpdatedAt:            &updated,
		PartnersByTier:       []v1alpha1.Count{{Name: "advanced", Count: 2}, {Name: "None", Count: 1}},
		PartnersByType:       []v1alpha1.Count{{Name: "GSI", Count: 3}},
		OutcomeBackedPercent: &pct,
		OutcomeTotals: []v1alpha1.MetricTotal{
			{Metric: "csat", Unit: "score", Aggregation: v1alpha1.MetricAggregationAverage, Total: "4.25", Partners: 4},
			{Metric: "sourced-revenue", Unit: "USD", Aggregation: v1alpha1.MetricAggregationSum, Total: "1250000", Partners: 3},
			{Metric: "win-rate", Unit: "percent", Total: "80", Partners: 1}, // written before aggregations were recorded: a sum
		},
		OpenRequestsByType:  []v1alpha1.Count{{Name: "Funds", Count: 4}},
		SLABreaches:         1,
		DecisionsLast30Days: 9,
		ListingsPublished:   5,
		ListingsUnpublished: 2,
		ListingsLowAdoption: 1,
		Deals:               fullDeals(),
	}
}

// fullDeals are deal figures in two currencies, one with funds and one without.
func fullDeals() *v1alpha1.DealFigures {
	conflict, expiry := int32(25), int32(10)
	return &v1alpha1.DealFigures{
		Registrations: 12,
		ByPhase: []v1alpha1.Count{{Name: "Approved", Count: 3}, {Name: "Expired", Count: 1}, {Name: "Queued", Count: 2},
			{Name: "Rejected", Count: 1}, {Name: "Won", Count: 5}},
		Currencies: []v1alpha1.DealCurrency{
			{Currency: "EUR", WonDeals: 1, Sourced: "80000", Influenced: "0", CommittedFunds: "0",
				ByTier:    []v1alpha1.DealRevenue{{Name: "registered", WonDeals: 1, Sourced: "80000", Influenced: "0"}},
				BySegment: []v1alpha1.DealRevenue{{Name: "None", WonDeals: 1, Sourced: "80000", Influenced: "0"}}},
			{Currency: "USD", WonDeals: 4, Sourced: "1250000", Influenced: "300000", CommittedFunds: "100000", ReturnOnInvestment: "12.5",
				ByTier: []v1alpha1.DealRevenue{{Name: "advanced", WonDeals: 3, Sourced: "1000000", Influenced: "300000"},
					{Name: "None", WonDeals: 1, Sourced: "250000", Influenced: "0"}},
				BySegment:       []v1alpha1.DealRevenue{{Name: "enterprise", WonDeals: 4, Sourced: "1250000", Influenced: "300000"}},
				OmittedSegments: 2},
		},
		ConflictRatePercent: &conflict,
		ExpiryRatePercent:   &expiry,
		Approval:            &v1alpha1.DealApprovalTime{Registrations: 9, P50Seconds: 7200, P95Seconds: 3 * 86400},
		TimeToFirstRevenue:  &v1alpha1.FirstRevenue{Partners: 4, MedianDays: "45.5"},
	}
}

// topFixture are two partners' revenue, as scorecard.TopPartners returns it.
func topFixture() []scorecard.PartnerRevenue {
	return []scorecard.PartnerRevenue{
		{Namespace: "partners", Name: "nimbus", Tier: "registered", Currency: "EUR", WonDeals: 1, Sourced: "80000", Influenced: "0", FirstRevenueDays: "12"},
		{Namespace: "partners", Name: "acme", Tier: "advanced", Currency: "USD", WonDeals: 3, Sourced: "1000000", Influenced: "0", FirstRevenueDays: "45.5"},
		{Namespace: "partners", Name: "helper", Tier: "None", Currency: "USD", Sourced: "0", Influenced: "300000"},
	}
}

func TestWriteScorecard(t *testing.T) {
	tests := map[string]struct {
		sc         *v1alpha1.Scorecard
		output     string
		top        []scorecard.PartnerRevenue
		topN       int
		wantOut    []string
		wantErrOut string
		wantErr    string
	}{
		"nil scorecard as a table says so": {
			sc: nil, output: "table",
			wantOut: []string{"PartnerProgram global has no scorecard yet"},
		},
		"zero scorecard as a table says so": {
			sc: &v1alpha1.Scorecard{}, output: "table",
			wantOut: []string{"PartnerProgram global has no scorecard yet"},
		},
		"empty scorecard as JSON stays parseable": {
			sc: nil, output: "json",
			wantOut: []string{"{}\n"}, wantErrOut: "has no scorecard yet",
		},
		"empty scorecard as YAML stays parseable": {
			sc: nil, output: "yaml",
			wantOut: []string{"{}\n"}, wantErrOut: "has no scorecard yet",
		},
		"figures as a table": {
			sc: fullScorecard(), output: "table",
			wantOut: []string{
				"Program:                          global\n",
				"Updated:                          2026-11-23T11:50:00Z (10m ago)\n",
				"Tier backed by current outcomes:  75% of tiered partners\n",
				"SLA breaches:                     1\n",
				"Review decisions (last 30 days):  9\n",
				"Listings:                         5 published, 2 unpublished, 1 low adoption\n",
				"Partners by tier:\n  TIER      COUNT\n  advanced  2\n  None      1\n",
				"Partners by type:\n  TYPE  COUNT\n  GSI   3\n",
				"Open requests by type:\n  TYPE   COUNT\n  Funds  4\n",
				"Outcome metrics across partners (current evidence):\n" +
					"  METRIC           AGGREGATION  VALUE    UNIT     PARTNERS\n" +
					"  csat             Average      4.25     score    4\n" +
					"  sourced-revenue  Sum          1250000  USD      3\n" +
					"  win-rate         Sum          80       percent  1\n",
			},
		},
		"deals as a table": {
			sc: fullScorecard(), output: "table",
			wantOut: []string{
				"\nDeals:\n" +
					"  Registrations:                 12 (Approved 3, Expired 1, Queued 2, Rejected 1, Won 5)\n" +
					"  Conflict rate:                 25% of decided registrations\n" +
					"  Expiry rate:                   10% of approved registrations that ended\n" +
					"  Approval time (last 90 days):  p50 120m, p95 3d (9 registrations)\n" +
					"  Time to first revenue:         median 45.5 days after joining (4 partners)\n",
				"  Won revenue and committed funds (sourced and influenced are never added):\n" +
					"    CURRENCY  WON  SOURCED  INFLUENCED  COMMITTED FUNDS  ROPI\n" +
					"    EUR       1    80000    0           0                - (no funds)\n" +
					"    USD       4    1250000  300000      100000           12.5\n",
				"  Won revenue by tier of the sourcing partner:\n" +
					"    CURRENCY  TIER        WON  SOURCED  INFLUENCED\n" +
					"    EUR       registered  1    80000    0\n" +
					"    USD       advanced    3    1000000  300000\n" +
					"    USD       None        1    250000   0\n",
				"  Won revenue by customer segment:\n" +
					"    CURRENCY  SEGMENT     WON  SOURCED  INFLUENCED\n" +
					"    EUR       None        1    80000    0\n" +
					"    USD       enterprise  4    1250000  300000\n" +
					"    (2 more not listed: the scorecard keeps the largest 16 per currency)\n",
			},
		},
		"deals not computed yet as a table": {
			sc: func() *v1alpha1.Scorecard { sc := fullScorecard(); sc.Deals = nil; return sc }(), output: "table",
			wantOut: []string{"\nDeals:\n  none: no deal registrations or approved funds yet\n"},
		},
		"rates without a denominator say so": {
			sc: &v1alpha1.Scorecard{Deals: &v1alpha1.DealFigures{Registrations: 1, ByPhase: []v1alpha1.Count{{Name: "UnderReview", Count: 1}}}}, output: "table",
			wantOut: []string{
				"  Conflict rate:                 - (no decided registrations yet)\n",
				"  Approval time (last 90 days):  - (none approved in the last 90 days)\n",
				"  Time to first revenue:         - (no partner has sourced a won deal yet)\n",
				"    none\n",
			},
		},
		"top partners as a table": {
			sc: fullScorecard(), output: "table", top: topFixture(), topN: 2,
			wantOut: []string{"\nTop partners by sourced revenue (2 per currency):\n" +
				"  CURRENCY  PARTNER          TIER        WON  SOURCED  INFLUENCED  FIRST REVENUE\n" +
				"  EUR       partners/nimbus  registered  1    80000    0           12 days after joining\n" +
				"  USD       partners/acme    advanced    3    1000000  0           45.5 days after joining\n" +
				"  USD       partners/helper  None        0    0        300000      -\n"},
		},
		"figures as JSON": {
			sc: fullScorecard(), output: "json",
			wantOut: []string{`"outcomeBackedPercent": 75`, `"total": "1250000"`, `"aggregation": "Average"`, `"slaBreaches": 1`,
				`"returnOnInvestment": "12.5"`, `"conflictRatePercent": 25`, `"p95Seconds": 259200`, `"medianDays": "45.5"`},
		},
		"figures as YAML": {
			sc: fullScorecard(), output: "yaml",
			wantOut: []string{"outcomeBackedPercent: 75\n", "- aggregation: Average\n  metric: csat\n", "  metric: sourced-revenue\n", "listingsPublished: 5\n"},
		},
		"unknown format": {sc: fullScorecard(), output: "wide", wantErr: `unknown output format "wide"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := writeScorecard(&out, &errOut, "global", tc.sc, tc.output, now, tc.top, tc.topN)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(errOut.String(), tc.wantErrOut) || (tc.wantErrOut == "" && errOut.Len() > 0) {
				t.Errorf("error output = %q, want %q", errOut.String(), tc.wantErrOut)
			}
		})
	}
}

func TestScorecardJSONAndYAMLRoundTrip(t *testing.T) {
	want := fullScorecard()
	for _, output := range []string{"json", "yaml"} {
		var out, errOut bytes.Buffer
		if err := writeScorecard(&out, &errOut, "global", want, output, now, nil, 0); err != nil {
			t.Fatal(err)
		}
		var got v1alpha1.Scorecard
		var err error
		if output == "json" {
			err = json.Unmarshal(out.Bytes(), &got)
		} else {
			err = yaml.Unmarshal(out.Bytes(), &got)
		}
		if err != nil {
			t.Fatalf("%s: %v", output, err)
		}
		if !got.UpdatedAt.Equal(want.UpdatedAt) || *got.OutcomeBackedPercent != 75 || len(got.OutcomeTotals) != 3 || got.OutcomeTotals[0].Aggregation != v1alpha1.MetricAggregationAverage || got.ListingsLowAdoption != 1 ||
			!reflect.DeepEqual(got.Deals, want.Deals) {
			t.Errorf("%s round trip = %+v", output, got)
		}
	}
}

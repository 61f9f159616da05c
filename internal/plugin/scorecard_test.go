package plugin

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/api/v1alpha1"
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
	}
}

func TestWriteScorecard(t *testing.T) {
	tests := map[string]struct {
		sc         *v1alpha1.Scorecard
		output     string
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
				"Decisions (last 30 days):         9\n",
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
		"figures as JSON": {
			sc: fullScorecard(), output: "json",
			wantOut: []string{`"outcomeBackedPercent": 75`, `"total": "1250000"`, `"aggregation": "Average"`, `"slaBreaches": 1`},
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
			err := writeScorecard(&out, &errOut, "global", tc.sc, tc.output, now)
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
		if err := writeScorecard(&out, &errOut, "global", want, output, now); err != nil {
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
		if !got.UpdatedAt.Equal(want.UpdatedAt) || *got.OutcomeBackedPercent != 75 || len(got.OutcomeTotals) != 3 || got.OutcomeTotals[0].Aggregation != v1alpha1.MetricAggregationAverage || got.ListingsLowAdoption != 1 {
			t.Errorf("%s round trip = %+v", output, got)
		}
	}
}

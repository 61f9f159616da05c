package harness

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func parse(t *testing.T, text string) Metrics {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return Metrics(fams)
}

func TestSumByAddsEachLabelValuesSeries(t *testing.T) {
	ms := parse(t, `# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="a",method="GET"} 10
rest_client_requests_total{code="200",host="a",method="PATCH"} 5
rest_client_requests_total{code="409",host="a",method="PATCH"} 2
rest_client_requests_total{code="<error>",host="a",method="GET"} 1
# TYPE workqueue_depth gauge
workqueue_depth{controller="partner",name="partner"} 3
workqueue_depth{controller="listing",name="listing"} 0
`)
	for name, c := range map[string]struct {
		family, label string
		want          map[string]float64
	}{
		"counters by code": {"rest_client_requests_total", "code", map[string]float64{"200": 15, "409": 2, "<error>": 1}},
		"gauges by name":   {"workqueue_depth", "name", map[string]float64{"partner": 3, "listing": 0}},
		"a missing label":  {"workqueue_depth", "nope", map[string]float64{"": 3}},
		"a missing family": {"nope_total", "code", map[string]float64{}},
	} {
		t.Run(name, func(t *testing.T) {
			got := ms.SumBy(c.family, c.label)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%q: got %g, want %g (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

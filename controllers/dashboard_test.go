package controllers

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// dashboardPath is the Grafana dashboard built on the manager's metrics.
const dashboardPath = "../config/grafana/partnergov-dashboard.json"

// promQLWords are the PromQL functions, aggregations and keywords the dashboard
// may use; any other identifier in an expression must be a registered metric.
var promQLWords = []string{
	"sum", "min", "max", "avg", "count", "topk", "bottomk", "by", "without", "on", "ignoring",
	"group_left", "group_right", "and", "or", "unless", "bool", "offset",
	"rate", "irate", "increase", "delta", "vector", "clamp_min", "clamp_max", "sort", "sort_desc",
	"label_values", "max_over_time", "min_over_time", "avg_over_time", "absent",
}

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // of collapsed rows
}

var (
	stringLiterals = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	labelMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	ranges         = regexp.MustCompile(`\[[^\]]*\]`)
	grouping       = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifiers    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// metricNames returns the metric names an expression (or label_values query) reads.
func metricNames(expr string) []string {
	expr = stringLiterals.ReplaceAllString(expr, `""`)
	expr = labelMatchers.ReplaceAllString(expr, "")
	expr = ranges.ReplaceAllString(expr, "")
	expr = grouping.ReplaceAllString(expr, "")
	// label_values(metric, label): the label is not a metric.
	expr = regexp.MustCompile(`(label_values\s*\(\s*[A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*[A-Za-z_][A-Za-z0-9_]*`).ReplaceAllString(expr, "$1")
	var names []string
	for _, id := range identifiers.FindAllString(expr, -1) {
		if !slices.Contains(promQLWords, id) {
			names = append(names, id)
		}
	}
	return names
}

// registeredIn reports whether reg already holds a metric named name: a probe
// with that name is refused when it does.
func registeredIn(reg prometheus.Registerer, name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe of the dashboard test"})
	if err := reg.Register(probe); err != nil {
		return true
	}
	reg.Unregister(probe)
	return false
}

func TestGrafanaDashboardUsesOnlyRegisteredMetrics(t *testing.T) {
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardPath, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("the dashboard needs a title and a uid")
	}

	// partnergov's own collectors, in a registry of their own; controller-runtime's
	// are registered in its global registry when its packages initialise.
	own := prometheus.NewRegistry()
	own.MustRegister(tierTransitions, slaBreaches, &partnerCollector{})
	registered := func(name string) bool { return registeredIn(own, name) || registeredIn(metrics.Registry, name) }
	if registered("partnergov_no_such_metric") {
		t.Fatal("the registration probe finds a metric that does not exist")
	}

	var exprs []string
	datasourceVar := false
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			datasourceVar = v.Query == "prometheus"
		}
		if q, ok := v.Query.(map[string]any); ok {
			if s, ok := q["query"].(string); ok {
				exprs = append(exprs, s)
			}
		}
	}
	if !datasourceVar {
		t.Errorf("the dashboard has no Prometheus datasource variable")
	}
	var walk func([]dashboardPanel)
	panels := 0
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			panels++
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the ${datasource} variable", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q has an empty expression", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)

	used := map[string]bool{}
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("expression %q reads no metric", e)
		}
		for _, n := range names {
			used[n] = true
			if !registered(n) {
				t.Errorf("expression %q uses %s, which the manager does not register", e, n)
			}
		}
	}
	// Every partnergov metric is on the dashboard, and the controller-runtime health ones.
	want := []string{
		"partnergov_partners", "partnergov_tier_transitions_total", "partnergov_requests_pending",
		"partnergov_review_sla_breaches_total", "partnergov_program_outcome_backed_percent",
		"partnergov_program_outcome_total", "partnergov_listings", "partnergov_program_sla_breaches",
		"partnergov_program_deal_revenue", "partnergov_program_deal_revenue_by_tier", "partnergov_program_deal_revenue_by_segment",
		"partnergov_program_deal_committed_funds", "partnergov_program_deal_return_on_investment",
		"partnergov_program_deal_registrations", "partnergov_program_deal_rate_percent",
		"partnergov_program_deal_approval_seconds", "partnergov_program_deal_first_revenue_days",
		"controller_runtime_reconcile_errors_total", "workqueue_depth",
	}
	for _, n := range want {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	if panels < len(want) {
		t.Errorf("the dashboard has %d panels, want at least %d", panels, len(want))
	}
}

func TestDashboardMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (program, tier) (partnergov_partners{program=~"$program"})`:                                       {"partnergov_partners"},
		`sum(rate(controller_runtime_reconcile_errors_total{job=~"a,b"}[$__rate_interval]))`:                      {"controller_runtime_reconcile_errors_total"},
		`label_values(partnergov_partners, program)`:                                                              {"partnergov_partners"},
		`sum by (program, currency, kind) (partnergov_program_deal_revenue{program=~"$program", kind="sourced"})`: {"partnergov_program_deal_revenue"},
		`sum(a{x="}"}) or vector(0) / on (x) b`:                                                                   {"a", "b"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}

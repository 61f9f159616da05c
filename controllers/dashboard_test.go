package controllers

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"
)

// The Grafana dashboard and the alerting rules built on the manager's metrics.
const (
	dashboardPath = "../config/grafana/partnergov-dashboard.json"
	rulesPath     = "../config/prometheus/partnergov.rules.yaml"
)

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

// grafanaIntervals are the dashboard's interval variables, replaced by a
// duration so that Prometheus' parser reads the expression; the other
// variables ($program, $job) only occur inside label values.
var grafanaIntervals = strings.NewReplacer("${__rate_interval}", "5m", "$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// labelValues is Grafana's label_values(metric, label) query.
var labelValues = regexp.MustCompile(`^label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$`)

// parseExpr parses a PromQL expression, or the metric of a label_values
// query, with Prometheus' own parser.
func parseExpr(expr string) (parser.Expr, error) {
	if m := labelValues.FindStringSubmatch(strings.TrimSpace(expr)); m != nil {
		expr = m[1]
	}
	return parser.NewParser(parser.Options{}).ParseExpr(grafanaIntervals.Replace(expr))
}

// selectorName is the metric a vector selector reads.
func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// selectors returns the vector selectors of an expression, in order.
func selectors(e parser.Node) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// metricNames returns the metric names an expression reads, in order.
func metricNames(expr string) ([]string, error) {
	e, err := parseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, vs := range selectors(e) {
		names = append(names, selectorName(vs))
	}
	return names, nil
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

// ownCollectors are partnergov's collectors, as RegisterMetrics registers them.
func ownCollectors() []prometheus.Collector {
	return []prometheus.Collector{tierTransitions, lifecycleTransitions, slaBreaches, &partnerCollector{}}
}

// registeredMetric reports whether the manager registers the metric an
// expression reads: one of partnergov's own (in a registry of their own) or
// one controller-runtime registers in its global registry when its packages
// initialise. A histogram's _bucket, _sum and _count series count as it.
func registeredMetric() func(name string) bool {
	own := prometheus.NewRegistry()
	own.MustRegister(ownCollectors()...)
	registered := func(name string) bool { return registeredIn(own, name) || registeredIn(metrics.Registry, name) }
	return func(name string) bool {
		if registered(name) {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && registered(base) {
				return true
			}
		}
		return false
	}
}

// describedLabels returns the label names of each of partnergov's own
// metrics, from their descriptors.
func describedLabels(t *testing.T) map[string][]string {
	t.Helper()
	descs := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range ownCollectors() {
			c.Describe(descs)
		}
		close(descs)
	}()
	desc := regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*variableLabels: \{([^}]*)\}\}$`)
	out := map[string][]string{}
	for d := range descs {
		m := desc.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the labels of %s", d)
		}
		out[m[1]] = nil
		if m[2] != "" {
			out[m[1]] = strings.Split(m[2], ",")
		}
	}
	return out
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
	registered := registeredMetric()
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
		names, err := metricNames(e)
		if err != nil {
			t.Errorf("expression %q does not parse: %v", e, err)
			continue
		}
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
		"partnergov_partner_at_risk_since_timestamp_seconds", "partnergov_partner_demotion_deadline_timestamp_seconds", "partnergov_partners_stale_evidence",
		"partnergov_partners_untrusted_evidence", "partnergov_listings_unpublished",
		"partnergov_request_sla_breach_timestamp_seconds", "partnergov_request_escalation_deadline_timestamp_seconds",
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

// TestAlertingRulesUseOnlyRegisteredMetricsAndTheirLabels parses every
// expression of config/prometheus/partnergov.rules.yaml with Prometheus' parser:
// each metric it reads must be registered by the manager, and on partnergov's
// own metrics each label it matches, groups by or joins on must be one the
// metric has (promtool's unit tests feed the rules series of their own making;
// this ties them to the manager's).
func TestAlertingRulesUseOnlyRegisteredMetricsAndTheirLabels(t *testing.T) {
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	registered := registeredMetric()
	own := describedLabels(t)
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			e, err := parseExpr(r.Expr)
			if err != nil {
				t.Errorf("alert %s: %v", r.Alert, err)
				continue
			}
			for _, p := range ruleLabelProblems(e, registered, own) {
				t.Errorf("alert %s: %s", r.Alert, p)
			}
		}
	}
	if rules == 0 {
		t.Fatalf("%s has no rules", rulesPath)
	}
}

// ruleLabelProblems lists the metrics of e the manager does not register, and
// the labels e uses that partnergov's own metrics do not have.
func ruleLabelProblems(e parser.Expr, registered func(string) bool, own map[string][]string) []string {
	var problems []string
	// labelsOf is the labels every partnergov metric n reads has; ok is false
	// when n reads another metric, whose labels are not known here.
	labelsOf := func(n parser.Node) (common []string, ok bool) {
		for i, vs := range selectors(n) {
			ls, mine := own[selectorName(vs)]
			if !mine {
				return nil, false
			}
			if i == 0 {
				common = slices.Clone(ls)
			} else {
				common = slices.DeleteFunc(common, func(l string) bool { return !slices.Contains(ls, l) })
			}
		}
		return common, true
	}
	check := func(what string, names []string, n parser.Node) {
		have, ok := labelsOf(n)
		if !ok {
			return
		}
		for _, l := range names {
			if !slices.Contains(have, l) {
				problems = append(problems, what+" label "+l+", which "+n.String()+" does not have")
			}
		}
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := selectorName(n)
			if !registered(name) {
				problems = append(problems, "reads "+name+", which the manager does not register")
				return nil
			}
			var matched []string
			for _, m := range n.LabelMatchers {
				if m.Name != labels.MetricName {
					matched = append(matched, m.Name)
				}
			}
			check("matches", matched, n)
		case *parser.AggregateExpr:
			if !n.Without {
				check("groups by", n.Grouping, n.Expr)
			}
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil && vm.On {
				check("joins on", vm.MatchingLabels, n.LHS)
				check("joins on", vm.MatchingLabels, n.RHS)
			}
		}
		return nil
	})
	return problems
}

func TestDashboardMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (program, tier) (partnergov_partners{program=~"$program"})`:                                       {"partnergov_partners"},
		`sum(rate(controller_runtime_reconcile_errors_total{job=~"a,b"}[$__rate_interval]))`:                      {"controller_runtime_reconcile_errors_total"},
		`label_values(partnergov_partners, program)`:                                                              {"partnergov_partners"},
		`sum by (program, currency, kind) (partnergov_program_deal_revenue{program=~"$program", kind="sourced"})`: {"partnergov_program_deal_revenue"},
		`sum(a{x="}"}) or vector(0) / on (x) b offset 1h`:                                                         {"a", "b"},
		`{__name__="c", y="by (z)"}`:                                                                              {"c"},
	} {
		got, err := metricNames(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %v, %v, want %v", expr, got, err, want)
		}
	}
}

func TestRuleLabelProblems(t *testing.T) {
	own := map[string][]string{"a": {"program", "partner"}, "b": {"program"}}
	registered := func(n string) bool { return n == "a" || n == "b" || n == "other" }
	for expr, want := range map[string]int{
		`max by (program, partner) (a{partner="x"})`:               0,
		`max by (program) (a) / on (program) sum by (program) (b)`: 0,
		`max by (namespace) (a)`:                                   1,
		`a{namespace="x"}`:                                         1,
		`max by (partner) (a) and on (partner) b`:                  1,
		`max by (whatever) (other)`:                                0, // not partnergov's: labels unknown
		`missing`:                                                  1,
	} {
		e, err := parseExpr(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := ruleLabelProblems(e, registered, own); len(got) != want {
			t.Errorf("ruleLabelProblems(%q) = %q, want %d", expr, got, want)
		}
	}
}

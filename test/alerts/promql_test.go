package alerts

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// selector is one vector selector of a PromQL expression: the metric it reads
// and its regular-expression label matchers.
type selector struct {
	name    string
	regexps map[string]string
}

// selectors parses expr with Prometheus' own parser and returns its vector selectors.
func selectors(t *testing.T, expr string) []selector {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("parsing %q: %v", expr, err)
	}
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{name: vs.Name, regexps: map[string]string{}}
		for _, m := range vs.LabelMatchers {
			switch {
			case m.Name == labels.MetricName && m.Type == labels.MatchEqual:
				s.name = m.Value
			case m.Type == labels.MatchRegexp:
				s.regexps[m.Name] = m.Value
			}
		}
		out = append(out, s)
		return nil
	})
	return out
}

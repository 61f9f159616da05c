package alerts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/test/testenv"
)

// rulesPath is the rules file, the one source of the alerts; unitTestsPath
// holds promtool's unit tests of it. Both are relative to the repository root.
const (
	rulesPath     = "config/prometheus/partnergov.rules.yaml"
	unitTestsPath = "test/alerts/testdata/partnergov.rules.test.yaml"
)

// ruleFile is a Prometheus rules file.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// unitTests is a promtool test file, as far as the tests here read it.
type unitTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		AlertRuleTests []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `json:"exp_labels"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readYAML(t *testing.T, rel string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// alerts returns the rules file's alerting rules by group.
func alerts(t *testing.T) map[string][]rule {
	t.Helper()
	var f ruleFile
	readYAML(t, rulesPath, &f)
	out := map[string][]rule{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out[g.Name] = append(out[g.Name], r)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no alerting rule", rulesPath)
	}
	return out
}

// tool returns the path of a command `make test-tools` installs, failing (never
// skipping) with what to run when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is missing: run `make test-tools` (it installs Debian's prometheus package, which has prometheus and promtool): %v", name, err)
	}
	return p
}

// promtool runs promtool in the repository root and fails with its output.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(tool(t, "promtool"), args...)
	cmd.Dir = repoRoot(t)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func TestTheRulesPassPromtoolCheck(t *testing.T) {
	t.Log(promtool(t, "check", "rules", rulesPath))
}

func TestTheRulesPassTheirPromtoolUnitTests(t *testing.T) {
	t.Log(promtool(t, "test", "rules", unitTestsPath))
}

// TestEveryAlertHasAFiringAndASilentUnitTest: each alert of the rules file has,
// in promtool's unit tests, a case where it fires (with its labels, which
// promtool compares exactly) and one where it must not.
func TestEveryAlertHasAFiringAndASilentUnitTest(t *testing.T) {
	var tests unitTests
	readYAML(t, unitTestsPath, &tests)
	if rf := tests.RuleFiles; len(rf) != 1 || filepath.Clean(filepath.Join(filepath.Dir(unitTestsPath), rf[0])) != rulesPath {
		t.Errorf("%s tests %v, want the one rules file %s", unitTestsPath, rf, rulesPath)
	}
	firing, silent := map[string]int{}, map[string]int{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTests {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname]++
			} else {
				silent[a.Alertname]++
			}
		}
	}
	var names []string
	for _, rules := range alerts(t) {
		for _, r := range rules {
			names = append(names, r.Alert)
			if firing[r.Alert] == 0 {
				t.Errorf("alert %s has no unit test in which it fires", r.Alert)
			}
			if silent[r.Alert] == 0 {
				t.Errorf("alert %s has no unit test in which it must not fire", r.Alert)
			}
		}
	}
	for name := range firing {
		if !slices.Contains(names, name) {
			t.Errorf("the unit tests test alert %s, which the rules file does not have", name)
		}
	}
}

// routing is, for each governance alert, the labels Alertmanager routes it on:
// its program; the partner's owner where it is about one partner or one of its
// requests; the review path's escalation owner for a request.
var routing = map[string][]string{
	"PartnergovReviewSLABreached":             {"program", "owner", "escalation_owner"},
	"PartnergovRequestEscalatedToOwner":       {"program", "owner", "escalation_owner"},
	"PartnergovPartnerNewlyAtRisk":            {"program", "owner"},
	"PartnergovPartnerOnProbation":            {"program", "owner"},
	"PartnergovStaleEvidenceShareHigh":        {"program"},
	"PartnergovUntrustedEvidence":             {"program"},
	"PartnergovListingsUnpublishedByDemotion": {"program"},
	"PartnergovBusinessReviewMissed":          {"program", "owner", "company_owners"},
}

// TestGovernanceAlertsCarryTheirRoutingLabels checks the firing unit tests'
// labels (which promtool compares exactly with what the rules produce): every
// governance alert carries its routing labels, none carries the replica's
// (instance, job), and the operations alerts carry no program.
func TestGovernanceAlertsCarryTheirRoutingLabels(t *testing.T) {
	byGroup := alerts(t)
	governance := byGroup["partnergov-governance"]
	if len(governance) == 0 || len(byGroup["partnergov-operations"]) == 0 {
		t.Fatalf("want the groups partnergov-governance and partnergov-operations, have %v", byGroup)
	}
	for _, r := range governance {
		if _, ok := routing[r.Alert]; !ok {
			t.Errorf("governance alert %s has no routing labels in this test: decide whom it reaches", r.Alert)
		}
	}
	group := map[string]string{}
	for g, rules := range byGroup {
		for _, r := range rules {
			group[r.Alert] = g
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity label", r.Alert)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s needs a summary and a description", r.Alert)
			}
		}
	}
	var tests unitTests
	readYAML(t, unitTestsPath, &tests)
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTests {
			for _, exp := range a.ExpAlerts {
				l := exp.ExpLabels
				for _, name := range routing[a.Alertname] {
					if l[name] == "" {
						t.Errorf("%s at %s fires without routing label %s: %v", a.Alertname, a.EvalTime, name, l)
					}
				}
				for _, name := range []string{"instance", "job"} {
					if _, ok := l[name]; ok {
						t.Errorf("%s at %s carries the replica's label %s: a new leader would start another alert", a.Alertname, a.EvalTime, name)
					}
				}
				if _, ok := l["program"]; ok && group[a.Alertname] == "partnergov-operations" {
					t.Errorf("operations alert %s carries a program", a.Alertname)
				}
			}
		}
	}
}

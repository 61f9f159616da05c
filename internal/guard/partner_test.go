package guard

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

const (
	crm   = "system:serviceaccount:integrations:crm-sync"
	lms   = "system:serviceaccount:integrations:lms-sync"
	ctrlr = "system:serviceaccount:partnergov-system:partnergov-controller-manager"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func program() *v1alpha1.PartnerProgram {
	return &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "global"},
		Spec: v1alpha1.PartnerProgramSpec{Metrics: []v1alpha1.MetricDefinition{
			{Name: "revenue", Class: v1alpha1.MetricClassOutcome, TrustedReporters: v1alpha1.Identities{
				ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "integrations", Name: "crm-sync"}},
				Groups:          []string{"partnergov:crm"},
			}},
			{Name: "training", Class: v1alpha1.MetricClassEnablement, TrustedReporters: v1alpha1.Identities{
				ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "integrations", Name: "lms-sync"}},
			}},
			{Name: "deal-revenue", Class: v1alpha1.MetricClassOutcome, Source: v1alpha1.MetricSourceDeals,
				Deals: &v1alpha1.DealMetric{Measure: v1alpha1.DealMeasureSourcedAmount, Currency: "USD"}},
		}},
	}
}

func entry(metric, value, source, via string) v1alpha1.EvidenceEntry {
	return v1alpha1.EvidenceEntry{Metric: metric, Value: v1alpha1.Decimal(value), ObservedAt: metav1.NewTime(now.Add(-time.Hour)), Source: source, TrustedVia: via}
}

func partner(evidence ...v1alpha1.EvidenceEntry) *v1alpha1.Partner {
	return &v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme"},
		Status:     v1alpha1.PartnerStatus{Evidence: evidence},
	}
}

const acmeIntegration = "system:serviceaccount:partners:acme-integration"

// offboarded gives p an offboarding effective at now plus in.
func offboarded(p *v1alpha1.Partner, in time.Duration) *v1alpha1.Partner {
	p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(now.Add(in))}
	return p
}

// selfReporting is program() trusting the partners' own integrations for training.
func selfReporting() *v1alpha1.PartnerProgram {
	p := program()
	p.Spec.Metrics[1].TrustedReporters.Groups = []string{"system:serviceaccounts:partners"}
	return p
}

func withTier(p *v1alpha1.Partner, tier string) *v1alpha1.Partner {
	p.Status.Tier = tier
	return p
}

func TestPartnerStatus(t *testing.T) {
	crmEntry := entry("revenue", "100", crm, "serviceaccount:integrations/crm-sync")
	tests := map[string]struct {
		old, new   *v1alpha1.Partner
		program    *v1alpha1.PartnerProgram
		catalog    *v1alpha1.PartnerProgram // the program, when not program()
		writer     Writer
		wantRefuse string               // substring of the refusal; "" means admitted
		wantStamps map[string][2]string // metric -> source, trustedVia
		wantValues map[string]v1alpha1.Decimal
	}{
		"a trusted service account reports": {
			old: partner(), new: partner(entry("revenue", "100", "", "")),
			writer:     Writer{Username: crm},
			wantStamps: map[string][2]string{"revenue": {crm, "serviceaccount:integrations/crm-sync"}},
		},
		"an offboarded partner's own integration reports nothing": {
			old: offboarded(partner(), -time.Minute), new: offboarded(partner(entry("training", "3", "", "")), -time.Minute),
			catalog: selfReporting(), writer: Writer{Username: acmeIntegration, Groups: []string{"system:serviceaccounts:partners"}},
			wantRefuse: "revoked when its offboarding took effect",
		},
		"its own integration reports until the offboarding takes effect": {
			old: offboarded(partner(), time.Minute), new: offboarded(partner(entry("training", "3", "", "")), time.Minute),
			catalog: selfReporting(), writer: Writer{Username: acmeIntegration, Groups: []string{"system:serviceaccounts:partners"}},
			wantStamps: map[string][2]string{"training": {acmeIntegration, "group:system:serviceaccounts:partners"}},
		},
		"the CRM still reports on an offboarded partner": {
			old: offboarded(partner(), -time.Minute), new: offboarded(partner(entry("revenue", "100", "", "")), -time.Minute),
			writer:     Writer{Username: crm},
			wantStamps: map[string][2]string{"revenue": {crm, "serviceaccount:integrations/crm-sync"}},
		},
		"a forged source is replaced by the authenticated identity": {
			old: partner(), new: partner(entry("revenue", "100", "the-cfo", "user:the-cfo")),
			writer:     Writer{Username: crm},
			wantStamps: map[string][2]string{"revenue": {crm, "serviceaccount:integrations/crm-sync"}},
		},
		"a member of a trusted group reports": {
			old: partner(), new: partner(entry("revenue", "100", "", "")),
			writer:     Writer{Username: "jane@example.com", Groups: []string{"staff", "partnergov:crm"}},
			wantStamps: map[string][2]string{"revenue": {"jane@example.com", "group:partnergov:crm"}},
		},
		"a Deals metric is refused: partnergov computes it": {
			old: partner(), new: partner(entry("deal-revenue", "100", "", "")),
			writer:     Writer{Username: crm},
			wantRefuse: `metric "deal-revenue" of PartnerProgram "global" is computed by partnergov from won deal registrations`,
		},
		"an untrusted identity is refused naming the metric and the identity": {
			old: partner(), new: partner(entry("revenue", "100", "", "")),
			writer:     Writer{Username: lms},
			wantRefuse: `system:serviceaccount:integrations:lms-sync is not trusted to report metric "revenue"`,
		},
		"a metric outside the catalog is refused": {
			old: partner(), new: partner(entry("karma", "100", "", "")),
			writer:     Writer{Username: crm},
			wantRefuse: `metric "karma" is not in the catalog`,
		},
		"evidence for a partner without a program is refused": {
			old: partner(), new: partner(entry("revenue", "100", "", "")), program: &v1alpha1.PartnerProgram{},
			writer:     Writer{Username: crm},
			wantRefuse: "PartnerProgram does not exist",
		},
		"an observation in the future is refused": {
			old:        partner(),
			new:        partner(v1alpha1.EvidenceEntry{Metric: "revenue", Value: "1", ObservedAt: metav1.NewTime(now.Add(time.Hour))}),
			writer:     Writer{Username: crm},
			wantRefuse: "in the future",
		},
		"an unchanged entry keeps its reporter when another writes its own": {
			old:        partner(crmEntry),
			new:        partner(entry("revenue", "100", "", ""), entry("training", "7", "", "")),
			writer:     Writer{Username: lms},
			wantStamps: map[string][2]string{"revenue": {crm, "serviceaccount:integrations/crm-sync"}, "training": {lms, "serviceaccount:integrations/lms-sync"}},
		},
		"another identity's entry cannot be changed": {
			old: partner(crmEntry), new: partner(entry("revenue", "999", "", "")),
			writer:     Writer{Username: "jane@example.com", Groups: []string{"partnergov:crm"}},
			wantRefuse: "it was reported by " + crm,
		},
		"another identity's entry cannot be removed": {
			old: partner(crmEntry), new: partner(),
			writer:     Writer{Username: lms},
			wantRefuse: `may not remove evidence "revenue"`,
		},
		"the reporter removes its own entry": {
			old: partner(crmEntry), new: partner(),
			writer:     Writer{Username: crm},
			wantValues: map[string]v1alpha1.Decimal{},
		},
		"an entry whose reporter is no longer trusted may be replaced": {
			old:        partner(entry("revenue", "100", "old-crm", "user:old-crm")),
			new:        partner(entry("revenue", "120", "", "")),
			writer:     Writer{Username: crm},
			wantStamps: map[string][2]string{"revenue": {crm, "serviceaccount:integrations/crm-sync"}},
			wantValues: map[string]v1alpha1.Decimal{"revenue": "120"},
		},
		"without a program another's entry cannot be removed": {
			old: partner(crmEntry), new: partner(), program: &v1alpha1.PartnerProgram{},
			writer:     Writer{Username: lms},
			wantRefuse: `may not remove evidence "revenue"`,
		},
		"an integration cannot set its own tier": {
			old: partner(), new: withTier(partner(), "premier"),
			writer:     Writer{Username: crm},
			wantRefuse: "may not change status.tier",
		},
		"an administrator cannot set a tier either": {
			old: partner(), new: withTier(partner(), "premier"),
			writer:     Writer{Username: "admin", Groups: []string{"system:masters"}},
			wantRefuse: "only the partnergov controller computes them",
		},
		"the controller sets the tier": {
			old: partner(crmEntry), new: withTier(partner(crmEntry), "premier"),
			writer:     Writer{Username: ctrlr, Controller: true},
			wantValues: map[string]v1alpha1.Decimal{"revenue": "100"},
		},
		"the controller cannot report evidence": {
			old: partner(), new: partner(entry("revenue", "100", "", "")),
			writer:     Writer{Username: ctrlr, Controller: true},
			wantRefuse: "is not trusted to report",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := program()
			if tc.program != nil {
				p = nil
			}
			if tc.catalog != nil {
				p = tc.catalog
			}
			got, refusal := PartnerStatus(tc.old, tc.new, p, tc.writer, now)
			if tc.wantRefuse != "" {
				if refusal == nil || !strings.Contains(refusal.Message, tc.wantRefuse) {
					t.Fatalf("refusal = %v, want one containing %q", refusal, tc.wantRefuse)
				}
				return
			}
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Message)
			}
			values := map[string]v1alpha1.Decimal{}
			for _, e := range got.Evidence {
				values[e.Metric] = e.Value
				if want, ok := tc.wantStamps[e.Metric]; ok && (e.Source != want[0] || e.TrustedVia != want[1]) {
					t.Errorf("%s stamped %q via %q, want %q via %q", e.Metric, e.Source, e.TrustedVia, want[0], want[1])
				}
			}
			if tc.wantValues != nil && len(values) != len(tc.wantValues) {
				t.Errorf("values = %v, want %v", values, tc.wantValues)
			}
			for m, v := range tc.wantValues {
				if values[m] != v {
					t.Errorf("values = %v, want %v", values, tc.wantValues)
				}
			}
		})
	}
}

func TestPartnerStatusDoesNotModifyItsInput(t *testing.T) {
	updated := partner(entry("revenue", "100", "forged", ""))
	if _, r := PartnerStatus(partner(), updated, program(), Writer{Username: crm}, now); r != nil {
		t.Fatal(r)
	}
	if updated.Status.Evidence[0].Source != "forged" {
		t.Fatal("the input was modified")
	}
}

package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Identities trusted by the test catalog.
const (
	crmUser = "system:serviceaccount:integrations:crm-sync"
	lmsUser = "system:serviceaccount:integrations:lms-sync"
)

func uniqueName(prefix string) string { return prefix + "-" + rand.String(6) }

func metric(name string, class v1alpha1.MetricClass, saName string) v1alpha1.MetricDefinition {
	return v1alpha1.MetricDefinition{
		Name: name, Class: class, Unit: "count",
		FreshnessWindow: metav1.Duration{Duration: 90 * 24 * time.Hour},
		TrustedReporters: v1alpha1.Identities{
			ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "integrations", Name: saName}},
		},
	}
}

// newProgram creates a program with an Outcome metric "revenue" reported by the
// CRM integration and an Enablement metric "training" reported by the LMS.
func newProgram(t *testing.T) *v1alpha1.PartnerProgram {
	t.Helper()
	p := &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("program")},
		Spec: v1alpha1.PartnerProgramSpec{
			Owner: "owner@example.com",
			Metrics: []v1alpha1.MetricDefinition{
				metric("revenue", v1alpha1.MetricClassOutcome, "crm-sync"),
				metric("training", v1alpha1.MetricClassEnablement, "lms-sync"),
			},
		},
	}
	if err := admin.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(ctx, p) })
	return p
}

func newTier(program, name string, rank int32, reqs ...v1alpha1.TierRequirement) *v1alpha1.PartnerTier {
	return &v1alpha1.PartnerTier{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.PartnerTierSpec{
			Program: program, Rank: rank, Requirements: reqs,
			Entitlements: v1alpha1.Entitlements{Resell: true},
		},
	}
}

func atLeast(metric, threshold string) v1alpha1.TierRequirement {
	return v1alpha1.TierRequirement{Metric: metric, Operator: v1alpha1.OperatorGreaterThanOrEqual, Threshold: v1alpha1.Decimal(threshold)}
}

func newPartner(namespace, program string) *v1alpha1.Partner {
	return &v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: uniqueName("partner")},
		Spec: v1alpha1.PartnerSpec{
			Program: program, Type: v1alpha1.PartnerTypeGSI, Owner: "jordan.lee@example.com",
		},
	}
}

// reportEvidence server-side-applies one evidence entry to a partner's status as
// an integration would, with its own field manager.
func reportEvidence(c client.Client, fieldManager string, p *v1alpha1.Partner, metric, value string, observedAt time.Time) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "Partner",
		"metadata":   map[string]any{"name": p.Name, "namespace": p.Namespace},
		"status": map[string]any{"evidence": []any{map[string]any{
			"metric": metric, "value": value, "observedAt": observedAt.UTC().Format(time.RFC3339),
		}}},
	}}
	return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldManager))
}

// integrationRules let an identity report evidence on any partner.
var integrationRules = []rbacv1.PolicyRule{{
	APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"partners/status"}, Verbs: []string{"get", "patch"},
}, {
	APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"partners"}, Verbs: []string{"get"},
}}

// qualifyForSelect reports, as the LMS and the CRM integrations, the training and
// revenue evidence that meets the select tier of ladder(), and returns the CRM's
// client for later reports.
func qualifyForSelect(t *testing.T, g Gomega, p *v1alpha1.Partner) client.Client {
	t.Helper()
	crm := userClient(t, crmUser, nil, integrationRules...)
	lms := userClient(t, lmsUser, nil, integrationRules...)
	g.Expect(reportEvidence(lms, "lms", p, "training", "7", time.Now())).To(Succeed())
	g.Expect(reportEvidence(crm, "crm", p, "revenue", "150", time.Now())).To(Succeed())
	return crm
}

// updateTier changes a tier's spec, retrying on conflicts with the controller's
// status writes.
func updateTier(g Gomega, name string, change func(*v1alpha1.PartnerTier)) {
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var t v1alpha1.PartnerTier
		if err := admin.Get(ctx, client.ObjectKey{Name: name}, &t); err != nil {
			return err
		}
		change(&t)
		return admin.Update(ctx, &t)
	})).To(Succeed())
}

// updateProgram changes a program's spec, retrying on conflicts.
func updateProgram(g Gomega, name string, change func(*v1alpha1.PartnerProgram)) {
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var p v1alpha1.PartnerProgram
		if err := admin.Get(ctx, client.ObjectKey{Name: name}, &p); err != nil {
			return err
		}
		change(&p)
		return admin.Update(ctx, &p)
	})).To(Succeed())
}

// selfReportingProgram creates a program with an Outcome metric the CRM reports
// and an Enablement metric ("training") that the partners' own integrations in
// ns may report, as the samples' training completions.
func selfReportingProgram(t *testing.T, ns string) *v1alpha1.PartnerProgram {
	t.Helper()
	program := &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("program")},
		Spec: v1alpha1.PartnerProgramSpec{Owner: "owner@example.com", Metrics: []v1alpha1.MetricDefinition{
			metric("revenue", v1alpha1.MetricClassOutcome, "crm-sync"),
			metric("training", v1alpha1.MetricClassEnablement, "lms-sync"),
		}},
	}
	program.Spec.Metrics[1].TrustedReporters.Groups = []string{"system:serviceaccounts:" + ns}
	create(t, program)
	return program
}

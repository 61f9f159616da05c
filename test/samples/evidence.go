package samples

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/testenv"
)

// sampleEvidence is what the sample integrations report, by integration, partner
// and metric. Acme qualifies for Premier (which needs a review), Nimbus for
// Advanced, Northwind for Select; Orbit has only enablement evidence.
var sampleEvidence = map[string]map[string]map[string]string{
	"crm-sync": {
		"acme-consulting":     {"sourced-revenue": "2400000", "influenced-revenue": "6100000"},
		"nimbus-software":     {"sourced-revenue": "620000", "influenced-revenue": "900000"},
		"northwind-resellers": {"sourced-revenue": "150000"},
	},
	"survey-sync": {
		"acme-consulting": {"customer-satisfaction": "4.7"},
		"nimbus-software": {"customer-satisfaction": "4.4"},
	},
	"servicedesk-sync": {
		"acme-consulting": {"delivery-escalations": "0"},
		"nimbus-software": {"delivery-escalations": "2"},
	},
	"lms-sync": {
		"acme-consulting":     {"certified-engineers": "14", "training-completions": "120"},
		"nimbus-software":     {"certified-engineers": "6"},
		"northwind-resellers": {"certified-engineers": "3"},
		"orbit-managed":       {"certified-engineers": "12", "training-completions": "40"},
	},
}

// reportSampleEvidence reports sampleEvidence as the integrations' own service
// account identities, each with its own field manager, through the status guard.
func reportSampleEvidence(ctx context.Context, env *testenv.Env) error {
	admin, err := client.New(env.Config, client.Options{Scheme: app.Scheme})
	if err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "partnergov-sample-integrations"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"partners/status"}, Verbs: []string{"get", "patch"},
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "partnergov-sample-integrations"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
	}
	for integration := range sampleEvidence {
		binding.Subjects = append(binding.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "partnergov-integrations", Name: integration})
	}
	for _, obj := range []client.Object{role, binding} {
		if err := admin.Create(ctx, obj); client.IgnoreAlreadyExists(err) != nil {
			return err
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for integration, partners := range sampleEvidence {
		cfg, err := env.UserConfig("system:serviceaccount:partnergov-integrations:"+integration,
			"system:serviceaccounts", "system:serviceaccounts:partnergov-integrations")
		if err != nil {
			return err
		}
		c, err := client.New(cfg, client.Options{Scheme: app.Scheme})
		if err != nil {
			return err
		}
		for partner, metrics := range partners {
			var entries []any
			for metric, value := range metrics {
				entries = append(entries, map[string]any{"metric": metric, "value": value, "observedAt": now})
			}
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Partner",
				"metadata": map[string]any{"name": partner, "namespace": "partners"},
				"status":   map[string]any{"evidence": entries},
			}}
			if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(integration)); err != nil {
				return fmt.Errorf("%s reporting evidence for %s: %w", integration, partner, err)
			}
		}
	}
	return nil
}

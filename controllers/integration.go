package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ManagedByLabel marks the objects partnergov provisions; the manager caches only those.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// ManagedByValue is ManagedByLabel's value.
const ManagedByValue = "partnergov"

// IntegrationName is the name of a partner's integration ServiceAccount, Role and RoleBinding.
func IntegrationName(partner string) string { return truncateName(partner + "-integration") }

// integrationObjects are the partner's integration identity: a ServiceAccount
// allowed to read and patch partners/status of this one partner and nothing else.
func integrationObjects(p *v1alpha1.Partner) []client.Object {
	name := IntegrationName(p.Name)
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: p.Namespace, Name: name, Labels: map[string]string{
			ManagedByLabel: ManagedByValue, "governance.partnergov.io/partner": p.Name,
		}}
	}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: meta()},
		&rbacv1.Role{ObjectMeta: meta(), Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{v1alpha1.GroupVersion.Group},
			Resources:     []string{"partners/status"},
			ResourceNames: []string{p.Name},
			Verbs:         []string{"get", "patch"},
		}}},
		&rbacv1.RoleBinding{ObjectMeta: meta(),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: p.Namespace, Name: name}},
		},
	}
}

// ensureIntegrationAccess creates the partner's integration objects, or repairs them
// when someone changed their rules; it writes nothing when they are as they should be.
func ensureIntegrationAccess(ctx context.Context, c client.Client, p *v1alpha1.Partner) error {
	for _, want := range integrationObjects(p) {
		if err := ctrl.SetControllerReference(p, want, c.Scheme()); err != nil {
			return err
		}
		have := want.DeepCopyObject().(client.Object)
		err := c.Get(ctx, client.ObjectKeyFromObject(want), have)
		if apierrors.IsNotFound(err) {
			if err := c.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if sameAccess(have, want) {
			continue
		}
		want.SetResourceVersion(have.GetResourceVersion())
		if err := c.Update(ctx, want); err != nil && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// sameAccess compares what grants access: rules, role reference and subjects.
func sameAccess(have, want client.Object) bool {
	switch w := want.(type) {
	case *rbacv1.Role:
		return equality.Semantic.DeepEqual(have.(*rbacv1.Role).Rules, w.Rules)
	case *rbacv1.RoleBinding:
		h := have.(*rbacv1.RoleBinding)
		return equality.Semantic.DeepEqual(h.RoleRef, w.RoleRef) && equality.Semantic.DeepEqual(h.Subjects, w.Subjects)
	default:
		return true
	}
}

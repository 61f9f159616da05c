package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ManagedByLabel marks the objects partnergov provisions; the manager caches only those.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// ManagedByValue is ManagedByLabel's value.
const ManagedByValue = "partnergov"

// integrationObjects are the partner's integration identity: a ServiceAccount
// allowed to read and patch partners/status of this one partner, and
// listings/status of its own listings (to report adoption), and nothing else.
func integrationObjects(p *v1alpha1.Partner, listings []string) []client.Object {
	name := v1alpha1.IntegrationName(p.Name)
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: p.Namespace, Name: name, Labels: map[string]string{
			ManagedByLabel: ManagedByValue, "governance.partnergov.io/partner": p.Name,
		}}
	}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: meta()},
		&rbacv1.Role{ObjectMeta: meta(), Rules: integrationRules(p.Name, listings)},
		&rbacv1.RoleBinding{ObjectMeta: meta(),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: p.Namespace, Name: name}},
		},
	}
}

func integrationRules(partner string, listings []string) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{{
		APIGroups:     []string{v1alpha1.GroupVersion.Group},
		Resources:     []string{"partners/status"},
		ResourceNames: []string{partner},
		Verbs:         []string{"get", "patch"},
	}}
	if len(listings) > 0 {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups:     []string{v1alpha1.GroupVersion.Group},
			Resources:     []string{"listings/status"},
			ResourceNames: listings,
			Verbs:         []string{"get", "patch"},
		})
	}
	return rules
}

// ensureIntegrationAccess creates the partner's integration objects when its
// spec asks for them, or repairs them when someone changed their rules, and
// deletes them when it no longer asks or once the partner's offboarding took
// effect (whatever spec.integration says; they are never provisioned again); it
// writes nothing when they are as they should be, and for a partner without an
// integration reads only the cache.
func ensureIntegrationAccess(ctx context.Context, c client.Client, live client.Reader, p *v1alpha1.Partner, now time.Time) error {
	if !p.IntegrationEnabled() || p.OffboardingEffective(now) {
		return revokeIntegrationAccess(ctx, c, p)
	}
	var listings v1alpha1.ListingList
	if err := c.List(ctx, &listings, client.InNamespace(p.Namespace), client.MatchingFields{indexPartner: p.Name}); err != nil {
		return err
	}
	names := make([]string, 0, len(listings.Items))
	for _, l := range listings.Items {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	for _, want := range integrationObjects(p, names) {
		if err := ctrl.SetControllerReference(p, want, c.Scheme()); err != nil {
			return err
		}
		have := want.DeepCopyObject().(client.Object)
		err := c.Get(ctx, client.ObjectKeyFromObject(want), have)
		if apierrors.IsNotFound(err) {
			err = c.Create(ctx, want)
			if apierrors.IsAlreadyExists(err) {
				err = checkManaged(ctx, live, want)
			}
			if err != nil {
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
		if err := repair(ctx, c, have, want); err != nil {
			return err
		}
	}
	return nil
}

// checkManaged is called when an object the cache did not show already exists:
// either the cache lags behind partnergov's own create, or someone else owns an
// object of that name, which is reported.
func checkManaged(ctx context.Context, live client.Reader, want client.Object) error {
	have := want.DeepCopyObject().(client.Object)
	if err := live.Get(ctx, client.ObjectKeyFromObject(want), have); err != nil {
		return client.IgnoreNotFound(err)
	}
	if have.GetLabels()[ManagedByLabel] == ManagedByValue {
		return nil
	}
	return fmt.Errorf("%T %s/%s exists but is not managed by partnergov (label %s=%s); remove it so the partner's integration identity can be provisioned",
		want, want.GetNamespace(), want.GetName(), ManagedByLabel, ManagedByValue)
}

// repair restores an integration object someone changed. A RoleBinding's roleRef
// cannot be updated (and the controller holds no delete verb): that is reported.
func repair(ctx context.Context, c client.Client, have, want client.Object) error {
	if h, ok := have.(*rbacv1.RoleBinding); ok && !equality.Semantic.DeepEqual(h.RoleRef, want.(*rbacv1.RoleBinding).RoleRef) {
		return fmt.Errorf("RoleBinding %s/%s refers to %s %q instead of Role %q; delete it and partnergov recreates it",
			h.Namespace, h.Name, h.RoleRef.Kind, h.RoleRef.Name, want.GetName())
	}
	want.SetResourceVersion(have.GetResourceVersion())
	if err := c.Update(ctx, want); err != nil && !apierrors.IsConflict(err) {
		return err
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

// revokeIntegrationAccess deletes the partner's integration objects that
// partnergov made for it (labelled, and controlled by this Partner); deleting
// the ServiceAccount invalidates every token issued for it. Objects of the same
// name that partnergov did not make are left alone.
func revokeIntegrationAccess(ctx context.Context, c client.Client, p *v1alpha1.Partner) error {
	for _, obj := range integrationObjects(p, nil) {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if obj.GetLabels()[ManagedByLabel] != ManagedByValue || !metav1.IsControlledBy(obj, p) {
			continue
		}
		if err := c.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

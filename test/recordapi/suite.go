// Package recordapi is the record API suite: what every store of
// decisionrecords.records.partnergov.io must do, asserted through the real
// kube-apiserver, so that the CRD store and the records server (PostgreSQL)
// behave the same for every verb both offer. Run it with RunRecordAPISuite.
package recordapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Resource is the records' resource.
var Resource = schema.GroupVersionResource{Group: "records.partnergov.io", Version: "v1alpha1", Resource: "decisionrecords"}

// Config points the suite at a store.
type Config struct {
	// Admin is a cluster admin's config: it sets up namespaces and RBAC.
	Admin *rest.Config
	// UserConfig returns a config authenticating as the named user.
	UserConfig func(name string, groups ...string) (*rest.Config, error)
	// Manager is the one username that may create records.
	Manager string
	// Namespace the suite creates and records in; unique to the run.
	Namespace string
	// Kubectl runs kubectl as a cluster admin and returns its standard output.
	Kubectl func(ctx context.Context, args ...string) (string, error)
	// NoWriteVerbs says the store offers no update and no delete (the records
	// server): they are refused as MethodNotAllowed and not advertised.
	// Without it (the CRD) they exist and admission refuses them.
	NoWriteVerbs bool
}

const (
	writer = "suite-writer" // RBAC lets it create records; it is not the manager
	reader = "suite-reader" // RBAC lets it get and list records
	year   = 365 * 24 * time.Hour
)

// labels the suite's records carry.
const (
	labelPartner = "suite.partnergov.io/partner"
	labelType    = "suite.partnergov.io/type"
)

// Record returns a valid record of partner's decision of type typ at time at.
func Record(namespace, name, partner, typ string, at time.Time) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Resource.GroupVersion().String(), "kind": "DecisionRecord",
		"metadata": map[string]any{"namespace": namespace, "name": name,
			"labels": map[string]any{labelPartner: partner, labelType: typ}},
		"spec": map[string]any{
			"type":        typ,
			"subject":     map[string]any{"kind": "Partner", "name": partner, "uid": "0b5c6f0e-1111-4222-8333-444455556666"},
			"partner":     partner,
			"program":     "global",
			"time":        at.UTC().Format(time.RFC3339),
			"actor":       "system:serviceaccount:partnergov-system:partnergov-controller-manager",
			"reason":      "Promoted",
			"message":     "met every requirement of Gold",
			"from":        "Silver",
			"to":          "Gold",
			"evidence":    []any{map[string]any{"metric": "sourced-revenue", "value": "250000"}},
			"retainUntil": at.Add(7 * year).UTC().Format(time.RFC3339),
		},
	}}
}

type clients struct {
	admin, manager, writer, reader dynamic.NamespaceableResourceInterface
	adminConfig                    *rest.Config
}

// RunRecordAPISuite runs the record API suite against the store cfg points at.
func RunRecordAPISuite(t *testing.T, cfg Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := setup(ctx, t, cfg)
	ns := cfg.Namespace
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

	t.Run("the manager creates a record and everyone allowed reads it as made", func(t *testing.T) {
		in := Record(ns, "acme-tier-promoted", "acme", "TierChange", at)
		out, err := c.manager.Namespace(ns).Create(ctx, in, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if out.GetUID() == "" || out.GetResourceVersion() == "" || out.GetCreationTimestamp().Time.IsZero() {
			t.Errorf("created record lacks uid, resourceVersion or creationTimestamp: %v", out.Object["metadata"])
		}
		for who, client := range map[string]dynamic.NamespaceableResourceInterface{"the manager": c.manager, "a reader": c.reader} {
			got, err := client.Namespace(ns).Get(ctx, "acme-tier-promoted", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("%s getting the record: %v", who, err)
			}
			if fmt.Sprint(withoutEmpty(got.Object["spec"])) != fmt.Sprint(in.Object["spec"]) {
				t.Errorf("%s got spec %v, want %v", who, got.Object["spec"], in.Object["spec"])
			}
			if got.GetUID() != out.GetUID() || got.GetLabels()[labelPartner] != "acme" {
				t.Errorf("%s got uid %s labels %v, want uid %s and the labels given", who, got.GetUID(), got.GetLabels(), out.GetUID())
			}
		}
	})

	t.Run("creating a recorded decision again is AlreadyExists", func(t *testing.T) {
		_, err := c.manager.Namespace(ns).Create(ctx, Record(ns, "acme-tier-promoted", "acme", "TierChange", at.Add(time.Hour)), metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating a taken name: %v, want AlreadyExists", err)
		}
	})

	t.Run("only the manager creates records, whatever RBAC allows", func(t *testing.T) {
		_, err := c.writer.Namespace(ns).Create(ctx, Record(ns, "forged", "acme", "TierChange", at), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "only the partnergov controller") {
			t.Fatalf("a writer other than the manager created a record: %v, want Forbidden naming the rule", err)
		}
		_, err = c.reader.Namespace(ns).Create(ctx, Record(ns, "forged", "acme", "TierChange", at), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("a reader created a record: %v, want Forbidden", err)
		}
		if _, err := c.admin.Namespace(ns).Get(ctx, "forged", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused record exists: %v", err)
		}
	})

	t.Run("an invalid record is refused naming the field", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			edit  func(spec map[string]any)
			field string
		}{
			{"no partner", func(s map[string]any) { delete(s, "partner") }, "spec.partner"},
			{"unknown type", func(s map[string]any) { s["type"] = "Coronation" }, "spec.type"},
			{"no actor", func(s map[string]any) { delete(s, "actor") }, "spec.actor"},
			{"reason too long", func(s map[string]any) { s["reason"] = strings.Repeat("R", 65) }, "spec.reason"},
			{"retained until before the decision", func(s map[string]any) { s["retainUntil"] = at.Add(-time.Hour).Format(time.RFC3339) }, "spec.retainUntil"},
			{"unknown subject kind", func(s map[string]any) { s["subject"].(map[string]any)["kind"] = "Planet" }, "spec.subject.kind"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := Record(ns, "invalid", "acme", "TierChange", at)
				tc.edit(r.Object["spec"].(map[string]any))
				_, err := c.manager.Namespace(ns).Create(ctx, r, metav1.CreateOptions{})
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field) {
					t.Errorf("creating a record with %s: %v, want Invalid naming %s", tc.name, err, tc.field)
				}
			})
		}
	})

	// Records of three partners and two types, a month apart.
	want := map[string]bool{}
	for i := range 11 {
		partner, typ := []string{"acme", "globex", "initech"}[i%3], []string{"DealTransition", "RequestOutcome"}[i%2]
		name := fmt.Sprintf("%s-%02d", partner, i)
		if _, err := c.manager.Namespace(ns).Create(ctx, Record(ns, name, partner, typ, at.AddDate(0, i, 0)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want[name] = true
	}
	want["acme-tier-promoted"] = true

	t.Run("paging lists every record once", func(t *testing.T) {
		seen := map[string]int{}
		cont, pages := "", 0
		for {
			list, err := c.reader.Namespace(ns).List(ctx, metav1.ListOptions{Limit: 5, Continue: cont})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(list.Items) > 5 {
				t.Fatalf("a page of limit 5 held %d records", len(list.Items))
			}
			for _, r := range list.Items {
				seen[r.GetName()]++
			}
			if cont = list.GetContinue(); cont == "" {
				break
			}
		}
		if pages != 3 {
			t.Errorf("%d pages of 5 for %d records, want 3", pages, len(want))
		}
		for name := range want {
			if seen[name] != 1 {
				t.Errorf("record %s listed %d times, want once", name, seen[name])
			}
		}
		if len(seen) != len(want) {
			t.Errorf("listed %d records, want %d", len(seen), len(want))
		}
	})

	t.Run("selectors", func(t *testing.T) {
		for _, tc := range []struct {
			name           string
			labels, fields string
			want           int
		}{
			{"by partner label", labelPartner + "=globex", "", 4},
			{"by type label", labelType + "=RequestOutcome", "", 5},
			{"by spec.partner", "", "spec.partner=initech", 3},
			{"by spec.type", "", "spec.type=TierChange", 1},
			{"by spec.partner and spec.type", "", "spec.partner=acme,spec.type=DealTransition", 2},
			{"by label and field", labelPartner + "=acme", "spec.type=TierChange", 1},
			{"by metadata.name", "", "metadata.name=globex-01", 1},
			{"nothing", "", "spec.partner=hooli", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				list, err := c.reader.Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: tc.labels, FieldSelector: tc.fields})
				if err != nil {
					t.Fatal(err)
				}
				if len(list.Items) != tc.want {
					var names []string
					for _, r := range list.Items {
						names = append(names, r.GetName())
					}
					t.Errorf("listed %v, want %d records", names, tc.want)
				}
			})
		}
		_, err := c.reader.Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.actor=someone"})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("selecting by a field that is not selectable: %v, want BadRequest", err)
		}
	})

	t.Run("a record cannot be changed or deleted", func(t *testing.T) {
		name := "acme-tier-promoted"
		checkRefused := func(what string, err error) {
			t.Helper()
			switch {
			case cfg.NoWriteVerbs && !apierrors.IsMethodNotSupported(err):
				t.Errorf("%s: %v, want MethodNotAllowed (no such verb)", what, err)
			case !cfg.NoWriteVerbs && !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err):
				// The CRD's schema refuses a changed spec (Invalid) before
				// its webhook refuses every other change (Forbidden).
				t.Errorf("%s: %v, want Forbidden or Invalid", what, err)
			}
		}
		got, err := c.admin.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(got.Object, "Demoted", "spec", "reason")
		_, err = c.admin.Namespace(ns).Update(ctx, got, metav1.UpdateOptions{})
		checkRefused("an admin's update", err)
		_, err = c.admin.Namespace(ns).Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
		checkRefused("an admin's patch", err)
		err = c.admin.Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
		checkRefused("an admin's delete", err)
		err = c.manager.Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
		checkRefused("the manager's delete", err)
		if cfg.NoWriteVerbs {
			err = c.admin.Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			checkRefused("an admin's deletecollection", err)
		}
		after, err := c.admin.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the record is gone: %v", err)
		}
		if r, _, _ := unstructured.NestedString(after.Object, "spec", "reason"); r != "Promoted" || len(after.GetLabels()) != 2 {
			t.Errorf("the record changed: reason %q, labels %v", r, after.GetLabels())
		}
	})

	t.Run("discovery advertises get, list and create", func(t *testing.T) {
		kc, err := kubernetes.NewForConfig(c.adminConfig)
		if err != nil {
			t.Fatal(err)
		}
		resources, err := kc.Discovery().ServerResourcesForGroupVersion(Resource.GroupVersion().String())
		if err != nil {
			t.Fatal(err)
		}
		var verbs []string
		for _, r := range resources.APIResources {
			if r.Name == Resource.Resource {
				verbs = slices.Sorted(slices.Values(r.Verbs))
				if !r.Namespaced || r.Kind != "DecisionRecord" || !slices.Contains(r.ShortNames, "drec") || !slices.Contains(r.Categories, "partnergov") {
					t.Errorf("discovery shows %+v, want namespaced DecisionRecord, short name drec, category partnergov", r)
				}
			}
		}
		for _, v := range []string{"create", "get", "list"} {
			if !slices.Contains(verbs, v) {
				t.Errorf("verbs %v lack %s", verbs, v)
			}
		}
		if cfg.NoWriteVerbs {
			// The namespace controller deletes only what advertises delete:
			// deleting a namespace leaves its records.
			for _, v := range []string{"delete", "deletecollection", "update", "patch"} {
				if slices.Contains(verbs, v) {
					t.Errorf("verbs %v advertise %s", verbs, v)
				}
			}
		}
	})

	t.Run("kubectl pages, prints and explains records", func(t *testing.T) {
		resource := Resource.Resource + "." + Resource.Group
		out, err := cfg.Kubectl(ctx, "get", resource, "-n", ns, "--chunk-size=4", "-o", "name")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Fields(out)); n != len(want) {
			t.Errorf("kubectl get in chunks of 4 listed %d records, want %d:\n%s", n, len(want), out)
		}
		out, err = cfg.Kubectl(ctx, "get", resource, "-n", ns, "acme-tier-promoted")
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 ||
			strings.Join(strings.Fields(lines[0]), " ") != "NAME TYPE PARTNER REASON ACTOR TIME" ||
			!strings.Contains(lines[1], "TierChange") {
			t.Errorf("kubectl get printed:\n%s", out)
		}
		out, err = cfg.Kubectl(ctx, "explain", resource+".spec.retainUntil")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "retainUntil") || !strings.Contains(out, Resource.Group) {
			t.Errorf("kubectl explain printed:\n%s", out)
		}
	})

	t.Run("kubectl get shows the CRD's columns", func(t *testing.T) {
		rc, err := rest.RESTClientFor(tableConfig(c.adminConfig))
		if err != nil {
			t.Fatal(err)
		}
		var table metav1.Table
		err = rc.Get().AbsPath("/apis", Resource.Group, Resource.Version, "namespaces", ns, Resource.Resource).
			Param("fieldSelector", "metadata.name=acme-tier-promoted").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctx).Into(&table)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, col := range table.ColumnDefinitions {
			names = append(names, col.Name)
		}
		if strings.Join(names, " ") != "Name Type Partner Reason Actor Time" {
			t.Errorf("columns %v, want Name Type Partner Reason Actor Time", names)
		}
		if len(table.Rows) != 1 || fmt.Sprint(table.Rows[0].Cells) != "[acme-tier-promoted TierChange acme Promoted system:serviceaccount:partnergov-system:partnergov-controller-manager 2026-03-01T09:30:00Z]" {
			t.Errorf("rows %v", table.Rows)
		}
	})
}

func tableConfig(c *rest.Config) *rest.Config {
	cfg := rest.CopyConfig(c)
	cfg.GroupVersion = &schema.GroupVersion{Group: Resource.Group, Version: Resource.Version}
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = tableCodecs
	return cfg
}

// setup creates the namespace and the RBAC the suite's users have, and
// waits until the API server applies it.
func setup(ctx context.Context, t *testing.T, cfg Config) *clients {
	t.Helper()
	kc, err := kubernetes.NewForConfig(cfg.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().Namespaces().Create(ctx, namespace(cfg.Namespace), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := grant(ctx, kc, cfg.Namespace, map[string][]string{
		// The manager may delete records as the CRD store's pruner does:
		// the store refuses what it must, not RBAC.
		cfg.Manager: {"create", "get", "list", "update", "patch", "delete"},
		writer:      {"create", "get", "list"},
		reader:      {"get", "list"},
	}); err != nil {
		t.Fatal(err)
	}
	c := &clients{adminConfig: cfg.Admin}
	for _, u := range []struct {
		name   string
		client *dynamic.NamespaceableResourceInterface
		verb   string
	}{{cfg.Manager, &c.manager, "create"}, {writer, &c.writer, "create"}, {reader, &c.reader, "list"}} {
		uc, err := cfg.UserConfig(u.name)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitAllowed(ctx, uc, cfg.Namespace, u.verb); err != nil {
			t.Fatalf("%s: %v", u.name, err)
		}
		d, err := dynamic.NewForConfig(uc)
		if err != nil {
			t.Fatal(err)
		}
		*u.client = d.Resource(Resource)
	}
	d, err := dynamic.NewForConfig(cfg.Admin)
	if err != nil {
		t.Fatal(err)
	}
	c.admin = d.Resource(Resource)
	return c
}

// waitAllowed waits until the API server lets the config's user do verb on records.
func waitAllowed(ctx context.Context, c *rest.Config, ns, verb string) error {
	kc, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := kc.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Group: Resource.Group, Resource: Resource.Resource}},
		}, metav1.CreateOptions{})
		if err == nil && r.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("RBAC does not allow %s on %s within 30s (%v)", verb, Resource.GroupResource(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tableCodecs decode the Table kubectl get asks for.
var tableCodecs = func() runtime.NegotiatedSerializer {
	s := runtime.NewScheme()
	metav1.AddMetaToScheme(s)
	return serializer.NewCodecFactory(s).WithoutConversion()
}()

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// grant gives each user the verbs on records in namespace ns, through a Role
// and RoleBinding of its own.
func grant(ctx context.Context, kc kubernetes.Interface, ns string, verbs map[string][]string) error {
	i := 0
	for user, vs := range verbs {
		i++
		name := fmt.Sprintf("suite-records-%d", i)
		role := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{Resource.Group}, Resources: []string{Resource.Resource}, Verbs: vs}},
		}
		if _, err := kc.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
			return err
		}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}
		if _, err := kc.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// withoutEmpty drops the empty objects a typed client writes for structs it
// cannot omit (spec.policyGenerations), so records compare by what was set.
func withoutEmpty(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, e := range m {
		if sub, ok := e.(map[string]any); ok && len(sub) == 0 {
			continue
		}
		out[k] = withoutEmpty(e)
	}
	return out
}

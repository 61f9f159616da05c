package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/partnergov/partnergov/internal/app"
)

const (
	managerSA = "partnergov-controller-manager"
	leaseName = "partnergov.governance.partnergov.io" // LeaderElectionID in internal/app
)

// allowance is what the install may grant on one resource.
type allowance struct {
	verbs []string
	// names, when set, are the only objects the verbs in namedVerbs (all verbs
	// when namedVerbs is empty) may reach: those rules must list resourceNames.
	names      []string
	namedVerbs []string
	// namespaced grants belong in a Role in the install's namespace, never in a ClusterRole.
	namespaced bool
}

var (
	readOnly   = []string{"get", "list", "watch"}
	statusRW   = []string{"get", "patch", "update"}
	provisions = []string{"create", "delete", "get", "list", "update", "watch"}
)

// allowed is the allow-list, per "group/resource". Widening it is a decision
// to review: a new resource or verb in the rendered RBAC (from a +kubebuilder:rbac
// marker or a hand-written role) fails TestLeastPrivilege until it is added here.
var allowed = map[string]allowance{
	// The partner controller provisions the integration identity of each partner
	// that asks for one: a ServiceAccount, a Role (get/patch of that partner's
	// status) and a RoleBinding; it deletes them when the partner stops asking
	// (only those it labelled and owns; deleting the ServiceAccount revokes its tokens).
	"/serviceaccounts":                       {verbs: provisions},
	"rbac.authorization.k8s.io/roles":        {verbs: provisions},
	"rbac.authorization.k8s.io/rolebindings": {verbs: provisions},
	// Decision records and review checks.
	"events.k8s.io/events":                      {verbs: []string{"create", "patch"}},
	"authorization.k8s.io/subjectaccessreviews": {verbs: []string{"create"}},
	// --metrics-secure authenticates scrapers.
	"authentication.k8s.io/tokenreviews": {verbs: []string{"create"}},
	// Leader election: its own Lease, and Events about it, in the install's namespace.
	"coordination.k8s.io/leases": {verbs: []string{"create", "get", "update"}, names: []string{leaseName}, namedVerbs: []string{"get", "update"}, namespaced: true},
	"/events":                    {verbs: []string{"create", "patch"}, namespaced: true},
	// Certificate rotation: the webhook Secret and the two webhook configurations;
	// with the postgres records store, the records server's Secret and its APIService.
	// Sealing: the seal key Secret (get and update only, see config/rbac/seal_key_role.yaml).
	"/secrets":                           {verbs: []string{"get", "list", "watch", "update"}, names: []string{app.Defaults.CertRotation.SecretName, sealKeySecret, recordsCertSecret}, namespaced: true},
	"apiregistration.k8s.io/apiservices": {verbs: []string{"get", "list", "watch", "update"}, names: []string{recordsAPIService}},
	"admissionregistration.k8s.io/mutatingwebhookconfigurations": {
		verbs: []string{"get", "list", "watch", "update"}, names: []string{app.Defaults.CertRotation.MutatingWebhookConfiguration},
	},
	"admissionregistration.k8s.io/validatingwebhookconfigurations": {
		verbs: []string{"get", "list", "watch", "update"}, names: []string{app.Defaults.CertRotation.ValidatingWebhookConfiguration},
	},
	// The governance API: read the program, write status; open TierPromotion requests.
	"governance.partnergov.io/partnerprograms":   {verbs: readOnly},
	"governance.partnergov.io/partnertiers":      {verbs: readOnly},
	"governance.partnergov.io/partners":          {verbs: readOnly},
	"governance.partnergov.io/listings":          {verbs: readOnly},
	"governance.partnergov.io/reviewpaths":       {verbs: readOnly},
	"governance.partnergov.io/exceptionrequests": {verbs: []string{"create", "get", "list", "watch"}},
	// Decision records (their own group): created once each, read uncached,
	// pruned after their retention; never watched, nothing of them is cached.
	"records.partnergov.io/decisionrecords": {verbs: []string{"create", "delete", "get", "list"}},
	// The heads of the partners' record chains: written with each record and
	// cached (one per partner, without its copy of the newest record) so the
	// partner controller finds a status cut back past its records; never deleted.
	"governance.partnergov.io/recordchains": {verbs: []string{"create", "get", "list", "update", "watch"}},
	// The programs' funds ledgers: written with each Funds approval under a
	// budget (reserved before the approval), cached to find a reservation to
	// release; never deleted.
	"governance.partnergov.io/fundsledgers": {verbs: []string{"create", "get", "list", "update", "watch"}},
	// Deal registration: registrations are decided (status), locks taken and released.
	"governance.partnergov.io/dealregistrations":        {verbs: readOnly},
	"governance.partnergov.io/dealregistrations/status": {verbs: statusRW},
	"governance.partnergov.io/deallocks":                {verbs: []string{"create", "delete", "get", "list", "update", "watch"}},
	// Joint business plans: read, status written (goals, reviews, approval).
	"governance.partnergov.io/jointbusinessplans":        {verbs: readOnly},
	"governance.partnergov.io/jointbusinessplans/status": {verbs: statusRW},
	"governance.partnergov.io/partnerprograms/status":    {verbs: statusRW},
	"governance.partnergov.io/partnertiers/status":       {verbs: statusRW},
	"governance.partnergov.io/partners/status":           {verbs: statusRW},
	"governance.partnergov.io/listings/status":           {verbs: statusRW},
	"governance.partnergov.io/reviewpaths/status":        {verbs: statusRW},
	"governance.partnergov.io/exceptionrequests/status":  {verbs: statusRW},
}

// sealKeySecret is the seal key Secret the install ships (--seal-key-secret).
const sealKeySecret = "partnergov-seal-key"

// The one role with a non-resource URL: GET /metrics, for scrapers; the install does not bind it.
const metricsReader = "partnergov-metrics-reader"

// recordsServerBindings are the only bindings of roles the install does not
// define, and the only ones of the records server's ServiceAccount (the
// postgres records store): the cluster's roles for delegated authentication
// and authorization, as every aggregated API server has. "Kind namespace/name"
// of the binding -> "Kind name" of the role.
var recordsServerBindings = map[string]string{
	"ClusterRoleBinding /partnergov-records-server-auth-delegator":  "ClusterRole system:auth-delegator",
	"RoleBinding kube-system/partnergov-records-server-auth-reader": "Role extension-apiserver-authentication-reader",
}

// TestLeastPrivilege holds the RBAC of every rendering (kustomize and Helm,
// both variants) to the allow-list above: no wildcard anywhere, no verb or
// resource beyond the list, Secrets only the certificate Secret by name in a
// namespaced Role, webhook configurations and the Lease only by name, no
// aggregation, and bindings only of the install's own roles to the manager's
// ServiceAccount, but for the records server's two bindings (postgres store)
// to the cluster's delegated authentication and authorization roles.
func TestLeastPrivilege(t *testing.T) {
	for _, v := range variants {
		for renderer, objs := range map[string][]*unstructured.Unstructured{
			"kustomize": kustomize(t, v.kustomize),
			"helm":      helm(t, v.helmSet...),
		} {
			t.Run(v.name+"/"+renderer, func(t *testing.T) {
				if n := len(ofKind(objs, "Role", "ClusterRole")); n < 4 {
					t.Fatalf("only %d roles rendered", n)
				}
				for _, p := range leastPrivilegeViolations(t, objs) {
					t.Error(p)
				}
			})
		}
	}
}

// TestLeastPrivilegeCatchesWidening widens the rendered RBAC in each way the
// check must refuse, and expects a violation for each.
func TestLeastPrivilegeCatchesWidening(t *testing.T) {
	addRule := func(kind, name string, r rbacv1.PolicyRule) func([]*unstructured.Unstructured) {
		return func(objs []*unstructured.Unstructured) {
			u := find(t, objs, kind, name)
			rules, _, _ := unstructured.NestedSlice(u.Object, "rules")
			m := map[string]any{}
			for k, v := range map[string][]string{"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs, "resourceNames": r.ResourceNames, "nonResourceURLs": r.NonResourceURLs} {
				if v != nil {
					m[k] = toAny(v)
				}
			}
			_ = unstructured.SetNestedSlice(u.Object, append(rules, m), "rules")
		}
	}
	manager, leader := "partnergov-manager-role", "partnergov-leader-election-role"
	cases := map[string]func([]*unstructured.Unstructured){
		"wildcard verb":             addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{"governance.partnergov.io"}, Resources: []string{"partners"}, Verbs: []string{"*"}}),
		"wildcard resource":         addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{"governance.partnergov.io"}, Resources: []string{"*"}, Verbs: []string{"get"}}),
		"wildcard group":            addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"partners"}, Verbs: []string{"get"}}),
		"extra verb":                addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{"governance.partnergov.io"}, Resources: []string{"partners"}, Verbs: []string{"delete"}}),
		"new resource":              addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}),
		"secrets cluster-wide":      addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{app.Defaults.CertRotation.SecretName}}),
		"secrets without a name":    addRule("Role", leader, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}}),
		"another secret":            addRule("Role", leader, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"someone-elses"}}),
		"any lease":                 addRule("Role", leader, rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"update"}}),
		"any webhook configuration": addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations"}, Verbs: []string{"update"}}),
		"non-resource URL":          addRule("ClusterRole", manager, rbacv1.PolicyRule{NonResourceURLs: []string{"/debug/pprof"}, Verbs: []string{"get"}}),
		"escalate":                  addRule("ClusterRole", manager, rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles"}, Verbs: []string{"escalate"}}),
		"binding to cluster-admin": func(objs []*unstructured.Unstructured) {
			_ = unstructured.SetNestedField(find(t, objs, "ClusterRoleBinding", "partnergov-manager-rolebinding").Object, "cluster-admin", "roleRef", "name")
		},
		"binding to a group": func(objs []*unstructured.Unstructured) {
			_ = unstructured.SetNestedSlice(find(t, objs, "ClusterRoleBinding", "partnergov-manager-rolebinding").Object,
				[]any{map[string]any{"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"}}, "subjects")
		},
		"aggregation": func(objs []*unstructured.Unstructured) {
			u := find(t, objs, "ClusterRole", metricsReader)
			u.SetLabels(map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"})
		},
	}
	// The postgres records store's RBAC (config/default-records-postgres).
	recordsRotation := "partnergov-records-cert-rotation-apiservice-role"
	setBinding := func(kind, name string, fields map[string]any) func([]*unstructured.Unstructured) {
		return func(objs []*unstructured.Unstructured) {
			u := find(t, objs, kind, name)
			for f, v := range fields {
				if f == "namespace" {
					u.SetNamespace(v.(string))
					continue
				}
				_ = unstructured.SetNestedField(u.Object, v, strings.Split(f, ".")...)
			}
		}
	}
	pgCases := map[string]func([]*unstructured.Unstructured){
		"any APIService": addRule("ClusterRole", recordsRotation, rbacv1.PolicyRule{APIGroups: []string{"apiregistration.k8s.io"}, Resources: []string{"apiservices"}, Verbs: []string{"update"}}),
		"another APIService": addRule("ClusterRole", recordsRotation, rbacv1.PolicyRule{APIGroups: []string{"apiregistration.k8s.io"}, Resources: []string{"apiservices"},
			Verbs: []string{"update"}, ResourceNames: []string{"v1beta1.metrics.k8s.io"}}),
		"delete the APIService": addRule("ClusterRole", recordsRotation, rbacv1.PolicyRule{APIGroups: []string{"apiregistration.k8s.io"}, Resources: []string{"apiservices"},
			Verbs: []string{"delete"}, ResourceNames: []string{recordsAPIService}}),
		"the records server bound to cluster-admin": setBinding("ClusterRoleBinding", "partnergov-records-server-auth-delegator", map[string]any{"roleRef.name": "cluster-admin"}),
		"auth-delegator for another subject": setBinding("ClusterRoleBinding", "partnergov-records-server-auth-delegator",
			map[string]any{"subjects": []any{map[string]any{"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"}}}),
		"the auth reader in another namespace":    setBinding("RoleBinding", "partnergov-records-server-auth-reader", map[string]any{"namespace": "default"}),
		"the auth reader bound to another role":   setBinding("RoleBinding", "partnergov-records-server-auth-reader", map[string]any{"roleRef.name": "system:controller:bootstrap-signer"}),
		"the manager's role bound in kube-system": setBinding("RoleBinding", "partnergov-records-cert-rotation-rolebinding", map[string]any{"namespace": "kube-system"}),
	}
	bases := map[string][]*unstructured.Unstructured{"": kustomize(t, "config/default"), "postgres": kustomize(t, "config/default-records-postgres")}
	for b, objs := range bases {
		if p := leastPrivilegeViolations(t, objs); len(p) > 0 {
			t.Fatalf("the rendered RBAC (%s) already fails: %v", b, p)
		}
	}
	all := map[string]func([]*unstructured.Unstructured){}
	for name, widen := range cases {
		all[name] = widen
	}
	for name, widen := range pgCases {
		all["postgres: "+name] = widen
	}
	for name, widen := range all {
		t.Run(name, func(t *testing.T) {
			base := bases[""]
			if strings.HasPrefix(name, "postgres: ") {
				base = bases["postgres"]
			}
			objs := make([]*unstructured.Unstructured, len(base))
			for i, u := range base {
				objs[i] = u.DeepCopy()
			}
			widen(objs)
			p := leastPrivilegeViolations(t, objs)
			if len(p) == 0 {
				t.Fatal("the widened RBAC passed the check")
			}
			t.Logf("caught: %s", strings.Join(p, "; "))
		})
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func leastPrivilegeViolations(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	roles := map[string]bool{} // "Kind name" of the install's roles
	for _, u := range ofKind(objs, "Role", "ClusterRole") {
		roles[u.GetKind()+" "+u.GetName()] = true
		id := key(u)
		for l := range u.GetLabels() {
			if strings.HasPrefix(l, "rbac.authorization.k8s.io/aggregate-to-") {
				bad("%s: label %s aggregates it into another role", id, l)
			}
		}
		if _, ok := u.Object["aggregationRule"]; ok {
			bad("%s: aggregationRule takes in rules from elsewhere", id)
		}
		if u.GetKind() == "Role" && u.GetNamespace() != namespace {
			bad("%s: a Role outside the install's namespace %s", id, namespace)
		}
		var rules []rbacv1.PolicyRule
		raw, _, _ := unstructured.NestedSlice(u.Object, "rules")
		for _, r := range raw {
			var rule rbacv1.PolicyRule
			convert(t, &unstructured.Unstructured{Object: r.(map[string]any)}, &rule)
			rules = append(rules, rule)
		}
		for _, r := range rules {
			for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs} {
				for _, s := range list {
					if strings.Contains(s, "*") {
						bad("%s: wildcard %q in %+v", id, s, r)
					}
				}
			}
			if len(r.NonResourceURLs) > 0 {
				if u.GetKind() != "ClusterRole" || u.GetName() != metricsReader || !slices.Equal(r.NonResourceURLs, []string{"/metrics"}) || !slices.Equal(r.Verbs, []string{"get"}) {
					bad("%s: non-resource URLs %v %v beyond GET /metrics in %s", id, r.Verbs, r.NonResourceURLs, metricsReader)
				}
				continue
			}
			if len(r.APIGroups) == 0 || len(r.Resources) == 0 || len(r.Verbs) == 0 {
				bad("%s: incomplete rule %+v", id, r)
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					k := g + "/" + res
					a, ok := allowed[k]
					if !ok {
						bad("%s: %s is not in the allow-list (test/deploy/rbac_test.go)", id, k)
						continue
					}
					if a.namespaced && u.GetKind() != "Role" {
						bad("%s: %s may only be granted by a Role in %s", id, k, namespace)
					}
					for _, verb := range r.Verbs {
						if !slices.Contains(a.verbs, verb) {
							bad("%s: verb %q on %s is beyond the allow-list %v", id, verb, k, a.verbs)
						}
						if len(a.names) == 0 || (len(a.namedVerbs) > 0 && !slices.Contains(a.namedVerbs, verb)) {
							continue
						}
						if len(r.ResourceNames) == 0 {
							bad("%s: %s %s must be limited to resourceNames %v", id, verb, k, a.names)
						}
						for _, n := range r.ResourceNames {
							if !slices.Contains(a.names, n) {
								bad("%s: %s %s of %q, only %v are allowed", id, verb, k, n, a.names)
							}
						}
					}
				}
			}
		}
	}
	if len(roles) == 0 {
		bad("no roles rendered")
	}
	for _, b := range ofKind(objs, "RoleBinding", "ClusterRoleBinding") {
		var rb rbacv1.RoleBinding // same fields as a ClusterRoleBinding
		convert(t, &unstructured.Unstructured{Object: map[string]any{"roleRef": b.Object["roleRef"], "subjects": b.Object["subjects"]}}, &rb)
		id := key(b)
		if role, ok := recordsServerBindings[b.GetKind()+" "+b.GetNamespace()+"/"+b.GetName()]; ok {
			if rb.RoleRef.Kind+" "+rb.RoleRef.Name != role {
				bad("%s: binds %s %s; the records server's binding may bind only %s", id, rb.RoleRef.Kind, rb.RoleRef.Name, role)
			}
			if len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != recordsServer || rb.Subjects[0].Namespace != namespace {
				bad("%s: subjects %+v; only the records server's ServiceAccount %s/%s may be bound", id, rb.Subjects, namespace, recordsServer)
			}
			continue
		}
		if b.GetNamespace() != "" && b.GetNamespace() != namespace {
			bad("%s: a RoleBinding outside the install's namespace %s", id, namespace)
		}
		if !roles[rb.RoleRef.Kind+" "+rb.RoleRef.Name] {
			bad("%s: binds %s %s, which is not one of the install's roles", id, rb.RoleRef.Kind, rb.RoleRef.Name)
		}
		if rb.RoleRef.Name == metricsReader {
			bad("%s: binds %s; that is for the cluster's scraper, not the install", id, metricsReader)
		}
		if len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != managerSA || rb.Subjects[0].Namespace != namespace {
			bad("%s: subjects %+v; only the manager's ServiceAccount %s/%s may be bound", id, rb.Subjects, namespace, managerSA)
		}
	}
	return out
}

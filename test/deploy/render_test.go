package deploy

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/internal/app"
)

// TestRenderedInstallIsAcceptedByTheAPIServer renders both install variants
// with kustomize and with Helm and server-side-applies every object with
// dryRun=All: CRDs first, then (the only real write) the namespace, then
// everything else. The API server validates each object against its schema;
// any warning (an unknown or deprecated field) fails the test too.
func TestRenderedInstallIsAcceptedByTheAPIServer(t *testing.T) {
	installCertManagerStandIns(t)
	for _, v := range variants {
		for renderer, objs := range map[string][]*unstructured.Unstructured{
			"kustomize": kustomize(t, v.kustomize),
			"helm":      helm(t, v.helmSet...),
		} {
			t.Run(v.name+"/"+renderer, func(t *testing.T) {
				dryRunApply(t, objs)
			})
		}
	}
}

// TestDryRunCatchesBadObjects shows that the dry run above fails on a field
// the schema does not know, rather than silently dropping it, and on a pod
// template the restricted Pod Security Standard would refuse.
func TestDryRunCatchesBadObjects(t *testing.T) {
	base := find(t, kustomize(t, "config/default"), "Deployment", "partnergov-controller-manager")
	createNamespace(t)
	for name, spoil := range map[string]func(u *unstructured.Unstructured) error{
		"unknown field": func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, int64(1), "spec", "template", "spec", "replicaz")
		},
		"not restricted": func(u *unstructured.Unstructured) error {
			unstructured.RemoveNestedField(u.Object, "spec", "template", "spec", "securityContext")
			containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			delete(containers[0].(map[string]any), "securityContext")
			return unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
		},
	} {
		t.Run(name, func(t *testing.T) {
			dep := base.DeepCopy()
			if err := spoil(dep); err != nil {
				t.Fatal(err)
			}
			if err := dryRunOne(dep); err == nil {
				t.Fatal("the spoiled Deployment passed the dry run")
			} else {
				t.Logf("refused as expected: %v", err)
			}
		})
	}
}

func dryRunApply(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	crds := ofKind(objs, "CustomResourceDefinition")
	if len(crds) == 0 {
		t.Fatal("the install has no CustomResourceDefinitions")
	}
	for _, u := range crds {
		if err := dryRunOne(u); err != nil {
			t.Error(err)
		}
	}
	createNamespace(t)
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" || u.GetKind() == "Namespace" {
			continue
		}
		if err := dryRunOne(u); err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d objects accepted", len(objs))
}

var (
	dryRunOnce   sync.Once
	dryRunClient client.Client
	warnings     = &warningRecorder{}
)

type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// dryRunOne server-side-applies one object with dryRun=All and returns an
// error for a rejection or a warning.
func dryRunOne(u *unstructured.Unstructured) error {
	dryRunOnce.Do(func() {
		cfg := rest.CopyConfig(env.Config)
		cfg.WarningHandlerWithContext = warnings
		var err error
		if dryRunClient, err = client.New(cfg, client.Options{Scheme: app.Scheme}); err != nil {
			panic(err)
		}
	})
	warnings.take()
	err := dryRunClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
		client.FieldOwner("test-deploy"), client.ForceOwnership, client.DryRunAll)
	if err != nil {
		return fmt.Errorf("%s: %w", key(u), err)
	}
	if w := warnings.take(); len(w) > 0 {
		return fmt.Errorf("%s: the API server warned: %s", key(u), strings.Join(w, "; "))
	}
	return nil
}

// createNamespace creates the install's namespace for real, as kustomize's
// Namespace object or `helm install --create-namespace` and docs/operations.md's
// `kubectl label` would: with the restricted Pod Security Standard enforced,
// so the API server warns about (and the dry run fails on) a Deployment
// whose pods would be refused.
func createNamespace(t *testing.T) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{
			"name":   namespace,
			"labels": map[string]any{"pod-security.kubernetes.io/enforce": "restricted"},
		},
	}}
	if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(ns), client.FieldOwner("test-deploy-namespace")); err != nil {
		t.Fatal(err)
	}
}

// installCertManagerStandIns installs CRDs for cert-manager's Issuer and
// Certificate, so the cert-manager variant can be dry-run, and for the
// Prometheus Operator's PrometheusRule, for the alerts variant. Their own CRDs
// cannot be fetched here; these stand-ins declare only the fields the install
// uses (an unknown field still fails the dry run), so they check the kinds, API
// version, scope and field names and types, not the operators' full schemas.
func installCertManagerStandIns(t *testing.T) {
	t.Helper()
	crds := decode(t, []byte(certManagerStandIns+"---"+prometheusRuleStandIn))
	for _, u := range crds {
		if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("test-deploy"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
	}
	waitEstablished(t, crds)
}

const certManagerStandIns = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: issuers.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: Issuer, listKind: IssuerList, plural: issuers, singular: issuer}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              selfSigned: {type: object}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: Certificate, listKind: CertificateList, plural: certificates, singular: certificate}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [issuerRef, secretName]
            properties:
              dnsNames: {type: array, items: {type: string}}
              secretName: {type: string}
              issuerRef:
                type: object
                required: [name]
                properties:
                  name: {type: string}
                  kind: {type: string}
                  group: {type: string}
`

const prometheusRuleStandIn = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheusrules.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  names: {kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, singular: prometheusrule}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            properties:
              groups:
                type: array
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string, minLength: 1}
                    interval: {type: string}
                    rules:
                      type: array
                      items:
                        type: object
                        required: [expr]
                        properties:
                          alert: {type: string}
                          record: {type: string}
                          expr: {x-kubernetes-int-or-string: true}
                          for: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                          labels: {type: object, additionalProperties: {type: string}}
                          annotations: {type: object, additionalProperties: {type: string}}
`

// TestThePrometheusRuleIsThePlainRulesFile: config/prometheus/partnergov.rules.yaml
// is the one source of the alerting rules; the PrometheusRule that kustomize
// (the component config/prometheus) and Helm (prometheusRule.enabled) render
// must hold exactly its groups, and Helm renders none by default.
func TestThePrometheusRuleIsThePlainRulesFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "config", "prometheus", "partnergov.rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if groups, _ := want["groups"].([]any); len(groups) == 0 {
		t.Fatal("the rules file has no groups")
	}
	for renderer, objs := range map[string][]*unstructured.Unstructured{
		"kustomize": kustomize(t, "test/deploy/testdata/alerts"),
		"helm":      helm(t, "prometheusRule.enabled=true"),
	} {
		rules := ofKind(objs, "PrometheusRule")
		if len(rules) != 1 {
			t.Fatalf("%s renders %d PrometheusRules, want 1", renderer, len(rules))
		}
		spec, _, _ := unstructured.NestedMap(rules[0].Object, "spec")
		if d := cmp.Diff(want, spec); d != "" {
			t.Errorf("the PrometheusRule %s renders differs from config/prometheus/partnergov.rules.yaml (run make manifests) (-file +rendered):\n%s", renderer, d)
		}
	}
	if n := len(ofKind(helm(t), "PrometheusRule")); n != 0 {
		t.Errorf("Helm renders %d PrometheusRules without prometheusRule.enabled", n)
	}
}

// TestKustomizeAndHelmRenderTheSameInstall compares, for each variant, every
// object kustomize renders with the one Helm renders: same kinds, names and
// namespaces, and the same content (Deployment args, RBAC rules, webhook rules,
// CRDs, everything). The intentional differences, and only they, are allowed:
//
//   - The Namespace: config/default creates partnergov-system (with the
//     restricted Pod Security label); Helm installs into --namespace, created
//     by `helm install --create-namespace` and labelled as docs/operations.md says,
//     because a chart that creates its own release namespace fails when that
//     namespace exists already.
//   - Labels: Helm adds app.kubernetes.io/instance, managed-by, version and
//     helm.sh/chart. Every label kustomize sets must be there with the same
//     value, except on the CRDs: Helm installs crds/ as they are, untemplated
//     (which is also why it never deletes them), so they are byte copies of
//     config/crd/bases without the labels kustomize adds (app.kubernetes.io/name
//     and partnergov.io/keep-on-uninstall, which the kustomize uninstall
//     command selects on and Helm does not need).
//   - The records CRD: Helm renders it from a template (only with
//     records.store=crd; a CRD in crds/ would be installed whatever the store,
//     and never upgraded), so it carries Helm's labels besides kustomize's and
//     the annotation helm.sh/resource-policy: keep, which keeps it (and every
//     record) through helm uninstall and a switch to postgres.
func TestKustomizeAndHelmRenderTheSameInstall(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			k, h := index(kustomize(t, v.kustomize)), index(helm(t, v.helmSet...))
			for id, ku := range k {
				hu, ok := h[id]
				switch {
				case !ok && ku.GetKind() == "Namespace" && ku.GetName() == namespace:
					continue // intentional: see above
				case !ok:
					t.Errorf("%s: rendered by kustomize (%s) but not by Helm", id, v.kustomize)
					continue
				}
				templatedCRD := ku.GetKind() == "CustomResourceDefinition" && ku.GetName() == recordsCRD
				if ku.GetKind() == "CustomResourceDefinition" {
					want := map[string]string{"app.kubernetes.io/name": "partnergov", keepLabel: "true"}
					if d := cmp.Diff(ku.GetLabels(), want); d != "" || (len(hu.GetLabels()) > 0 && !templatedCRD) {
						t.Errorf("%s: unexpected labels: kustomize %v, Helm %v", id, ku.GetLabels(), hu.GetLabels())
					}
				}
				if templatedCRD {
					if hu.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
						t.Errorf("%s: Helm renders it without helm.sh/resource-policy: keep; an uninstall or a switch to postgres would delete every record", id)
					}
					hu = hu.DeepCopy()
					a := hu.GetAnnotations()
					delete(a, "helm.sh/resource-policy")
					hu.SetAnnotations(a)
				}
				for l, val := range ku.GetLabels() {
					if ku.GetKind() == "CustomResourceDefinition" && !templatedCRD {
						break // intentional: see above
					}
					if got, ok := hu.GetLabels()[l]; !ok || got != val {
						t.Errorf("%s: kustomize sets label %s=%s, Helm %q", id, l, val, got)
					}
				}
				if d := cmp.Diff(withoutLabels(ku), withoutLabels(hu)); d != "" {
					t.Errorf("%s differs between kustomize (-) and Helm (+):\n%s", id, d)
				}
			}
			for id := range h {
				if _, ok := k[id]; !ok {
					t.Errorf("%s: rendered by Helm but not by kustomize (%s)", id, v.kustomize)
				}
			}
			t.Logf("%d objects compared", len(h))
		})
	}
}

func index(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		m[key(u)] = u
	}
	return m
}

func withoutLabels(u *unstructured.Unstructured) map[string]any {
	c := u.DeepCopy()
	c.SetLabels(nil)
	// Round-trip through JSON so both sides hold the same Go types.
	b, err := c.MarshalJSON()
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	// kustomize's patch (config/webhook/controller_writes_patch.yaml) moves the
	// webhooks it patches to the front of the list; the order carries no
	// meaning here, since no request matches two of partnergov's mutating
	// webhooks (checkWiring checks that), so webhooks compare by name.
	if ws, ok := m["webhooks"].([]any); ok {
		slices.SortFunc(ws, func(a, b any) int {
			return strings.Compare(fmt.Sprint(a.(map[string]any)["name"]), fmt.Sprint(b.(map[string]any)["name"]))
		})
	}
	return m
}

// TestRenderedInstallIsWiredTogether checks, in every rendering, that the
// pieces refer to each other: the Deployment's args parse with the manager's
// own flags and name the Secret, Service and webhook configurations that the
// install contains; ports, probes and selectors line up; and the pod is
// hardened (restricted security context, probes, resources, two replicas
// spread over nodes, a PodDisruptionBudget).
func TestRenderedInstallIsWiredTogether(t *testing.T) {
	for _, v := range variants {
		for renderer, objs := range map[string][]*unstructured.Unstructured{
			"kustomize": kustomize(t, v.kustomize),
			"helm":      helm(t, v.helmSet...),
		} {
			t.Run(v.name+"/"+renderer, func(t *testing.T) {
				checkWiring(t, v, objs)
				for _, p := range recordsWiringProblems(t, v, objs) {
					t.Error(p)
				}
			})
		}
	}
}

func checkWiring(t *testing.T, v variant, objs []*unstructured.Unstructured) {
	var dep appsv1.Deployment
	convert(t, find(t, objs, "Deployment", "partnergov-controller-manager"), &dep)
	if dep.Namespace != namespace {
		t.Errorf("Deployment namespace %q, want %q", dep.Namespace, namespace)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	o := parseArgs(t, c.Args)

	// Hardening.
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	if !o.LeaderElection {
		t.Error("the manager runs without --leader-elect")
	}
	if !o.MetricsSecure {
		t.Error("metrics are served without --metrics-secure")
	}
	for _, p := range hardeningProblems("the manager", pod, c) {
		t.Error(p)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Fatal("the manager has no liveness or readiness probe")
	}
	podLabels := labels.Set(dep.Spec.Template.Labels)
	if sel := dep.Spec.Selector; sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(podLabels) {
		t.Error("the Deployment's selector does not match its pods")
	}
	if len(pod.TopologySpreadConstraints) == 0 {
		t.Error("no topologySpreadConstraints")
	}
	for _, tsc := range pod.TopologySpreadConstraints {
		if tsc.LabelSelector == nil || !labels.SelectorFromSet(tsc.LabelSelector.MatchLabels).Matches(podLabels) {
			t.Errorf("topology spread over %s does not select the manager's pods", tsc.TopologyKey)
		}
	}
	var pdb policyv1.PodDisruptionBudget
	convert(t, find(t, objs, "PodDisruptionBudget", "partnergov-controller-manager"), &pdb)
	if pdb.Spec.Selector == nil || !labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(podLabels) {
		t.Error("the PodDisruptionBudget does not select the manager's pods")
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || pdb.Spec.MinAvailable.IntValue() >= 2 {
		t.Errorf("PodDisruptionBudget minAvailable %v: want at least 1 and fewer than the replicas", pdb.Spec.MinAvailable)
	}

	// The ServiceAccount the pods run as is the one the bindings grant (the
	// records server's bindings are checked by recordsWiringProblems).
	find(t, objs, "ServiceAccount", pod.ServiceAccountName)
	for _, b := range ofKind(objs, "RoleBinding", "ClusterRoleBinding") {
		subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
		for _, s := range subjects {
			s := s.(map[string]any)
			if v.postgres && s["kind"] == "ServiceAccount" && s["name"] == recordsServer && s["namespace"] == namespace {
				continue
			}
			if s["kind"] != "ServiceAccount" || s["name"] != pod.ServiceAccountName || s["namespace"] != namespace {
				t.Errorf("%s binds %v, not the manager's ServiceAccount %s/%s", key(b), s, namespace, pod.ServiceAccountName)
			}
		}
	}

	// Ports: each flag's port is a container port that the probes and Services use.
	port := func(name string) int32 {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		t.Fatalf("the manager container has no port named %q", name)
		return 0
	}
	if want := fmt.Sprint(port("health")); portOf(t, o.HealthProbeBindAddress) != want {
		t.Errorf("--health-probe-bind-address %s, container port health %s", o.HealthProbeBindAddress, want)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p.HTTPGet == nil || p.HTTPGet.Port.String() != "health" {
			t.Errorf("probe %+v does not use the health port", p.ProbeHandler)
		}
	}
	if want := fmt.Sprint(port("metrics")); portOf(t, o.MetricsBindAddress) != want {
		t.Errorf("--metrics-bind-address %s, container port metrics %s", o.MetricsBindAddress, want)
	}
	if port("webhook-server") != int32(o.WebhookPort) {
		t.Errorf("--webhook-port %d, container port webhook-server %d", o.WebhookPort, port("webhook-server"))
	}
	var metricsSvc, webhookSvc corev1.Service
	convert(t, find(t, objs, "Service", "partnergov-controller-manager-metrics-service"), &metricsSvc)
	convert(t, find(t, objs, "Service", "partnergov-webhook-service"), &webhookSvc)
	for _, s := range []corev1.Service{metricsSvc, webhookSvc} {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) || len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s does not select the manager's pods", s.Name)
		}
	}
	if tp := metricsSvc.Spec.Ports[0].TargetPort; tp.String() != "metrics" {
		t.Errorf("the metrics Service targets %s, not the metrics port", tp.String())
	}
	if tp := webhookSvc.Spec.Ports[0].TargetPort; tp.IntValue() != int(o.WebhookPort) {
		t.Errorf("the webhook Service targets %s, the webhook server listens on %d", tp.String(), o.WebhookPort)
	}

	// The webhook configurations call the webhook Service.
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	mwcU := find(t, objs, "MutatingWebhookConfiguration", app.Defaults.CertRotation.MutatingWebhookConfiguration)
	vwcU := find(t, objs, "ValidatingWebhookConfiguration", app.Defaults.CertRotation.ValidatingWebhookConfiguration)
	convert(t, mwcU, &mwc)
	convert(t, vwcU, &vwc)
	var clientConfigs []admissionregistrationv1.WebhookClientConfig
	for _, w := range mwc.Webhooks {
		clientConfigs = append(clientConfigs, w.ClientConfig)
	}
	for _, w := range vwc.Webhooks {
		clientConfigs = append(clientConfigs, w.ClientConfig)
	}
	if len(clientConfigs) == 0 {
		t.Fatal("the webhook configurations have no webhooks")
	}
	for _, cc := range clientConfigs {
		if cc.Service == nil || cc.Service.Name != webhookSvc.Name || cc.Service.Namespace != namespace || cc.URL != nil {
			t.Errorf("webhook clientConfig %+v does not call Service %s/%s", cc, namespace, webhookSvc.Name)
		}
		if len(cc.CABundle) > 0 {
			t.Error("a rendered webhook has a caBundle: it is injected at run time, and a rendered one would be overwritten on every sync")
		}
	}

	// No write matches two of the mutating webhooks, so their order (which
	// kustomize's patch changes) does not matter.
	seen := map[string]string{}
	for _, w := range mwc.Webhooks {
		for _, r := range w.Rules {
			for _, res := range r.Resources {
				for _, op := range r.Operations {
					k := res + " " + string(op)
					if other, dup := seen[k]; dup {
						t.Errorf("%s is mutated by both %s and %s: their order would matter", k, other, w.Name)
					}
					seen[k] = w.Name
				}
			}
		}
	}

	// The manager's own hot-path writes skip five webhooks by a match
	// condition naming its ServiceAccount; a condition naming any other
	// identity would let that identity's writes skip them instead.
	manager := "'system:serviceaccount:" + dep.Namespace + ":" + pod.ServiceAccountName + "'"
	skipped := map[string][]admissionregistrationv1.MatchCondition{}
	for _, w := range mwc.Webhooks {
		skipped[w.Name] = w.MatchConditions
	}
	for _, w := range vwc.Webhooks {
		skipped[w.Name] = w.MatchConditions
	}
	for _, name := range []string{"mpartnerstatus.governance.partnergov.io", "mdealregistrationstatus.governance.partnergov.io", "mdeallock.governance.partnergov.io", "vdecisionrecord.records.partnergov.io"} {
		if len(skipped[name]) == 0 {
			t.Errorf("webhook %s has no match condition for the manager's own writes", name)
		}
	}
	for name, mcs := range skipped {
		for _, mc := range mcs {
			if !strings.Contains(mc.Expression, manager) {
				t.Errorf("match condition %s of webhook %s does not name the manager's ServiceAccount %s: %s", mc.Name, name, manager, mc.Expression)
			}
		}
	}

	// Sealing: the manager owns its seal key Secret, shipped empty, in its namespace.
	if o.SealKeySecret == "" || o.SealKeyFile != "" {
		t.Errorf("the install must pass --seal-key-secret (and no --seal-key-file): sealing would be off or unmanaged")
	} else if s := find(t, objs, "Secret", o.SealKeySecret); s.GetNamespace() != namespace || s.Object["data"] != nil || s.Object["stringData"] != nil {
		t.Errorf("the seal key Secret must be in %s and ship without data (a sync would overwrite the key)", namespace)
	}

	// The certificate: a mounted Secret at --webhook-cert-dir, from the manager or cert-manager.
	var certVolume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == o.WebhookCertDir {
			certVolume = m.Name
		}
	}
	secretName := ""
	for _, vol := range pod.Volumes {
		if vol.Name == certVolume && vol.Secret != nil {
			secretName = vol.Secret.SecretName
		}
	}
	if secretName == "" {
		t.Fatalf("no Secret volume is mounted at --webhook-cert-dir %s", o.WebhookCertDir)
	}
	cr := o.CertRotation
	if !v.certMgr {
		if !cr.Enabled {
			t.Error("config/default must pass --cert-rotation=true")
		}
		if cr.SecretName != secretName {
			t.Errorf("--cert-secret-name %s, mounted Secret %s", cr.SecretName, secretName)
		}
		if s := find(t, objs, "Secret", secretName); s.GetNamespace() != namespace || s.Object["data"] != nil || s.Object["stringData"] != nil {
			t.Errorf("the certificate Secret must be in %s and ship without data (a sync would overwrite the certificate)", namespace)
		}
		if cr.ServiceName != webhookSvc.Name {
			t.Errorf("--webhook-service-name %s, webhook Service %s", cr.ServiceName, webhookSvc.Name)
		}
		if cr.MutatingWebhookConfiguration != mwc.Name || cr.ValidatingWebhookConfiguration != vwc.Name {
			t.Errorf("rotation injects into %s and %s, the install has %s and %s",
				cr.MutatingWebhookConfiguration, cr.ValidatingWebhookConfiguration, mwc.Name, vwc.Name)
		}
		found := false
		for _, e := range c.Env {
			found = found || (e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace")
		}
		if !found && cr.SecretNamespace == "" {
			t.Error("rotation needs the namespace: POD_NAMESPACE from the downward API or --cert-secret-namespace")
		}
		if len(ofKind(objs, "Certificate", "Issuer")) > 0 {
			t.Error("the rotation variant must not contain cert-manager objects")
		}
		return
	}
	if cr.Enabled {
		t.Error("with cert-manager the manager's own rotation must be off")
	}
	for _, s := range ofKind(objs, "Secret") {
		if s.GetName() != o.SealKeySecret {
			t.Errorf("with cert-manager the install must not ship the certificate Secret (cert-manager owns it), got %s", s.GetName())
		}
	}
	var cert *unstructured.Unstructured
	for _, u := range ofKind(objs, "Certificate") {
		if got, _, _ := unstructured.NestedString(u.Object, "spec", "secretName"); got == secretName {
			cert = u
		}
	}
	if cert == nil {
		t.Fatalf("no cert-manager Certificate writes the Secret %s the manager's pods mount", secretName)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if want := webhookSvc.Name + "." + namespace + ".svc"; !slices.Contains(dnsNames, want) {
		t.Errorf("the Certificate's dnsNames %v lack %s", dnsNames, want)
	}
	issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	find(t, objs, "Issuer", issuer)
	for _, w := range []*unstructured.Unstructured{mwcU, vwcU} {
		if got, want := w.GetAnnotations()["cert-manager.io/inject-ca-from"], cert.GetNamespace()+"/"+cert.GetName(); got != want {
			t.Errorf("%s: cert-manager.io/inject-ca-from %q, want %q", key(w), got, want)
		}
	}
	for _, r := range ofKind(objs, "Role", "ClusterRole") {
		if strings.Contains(r.GetName(), "cert-rotation") {
			t.Errorf("%s: the rotation RBAC is not needed with cert-manager", key(r))
		}
	}
}

// parseArgs parses the rendered args with the manager's own flags (main.go
// binds the same ones), so an arg the manager does not know fails here.
func parseArgs(t *testing.T, args []string) app.Options {
	t.Helper()
	o := app.Defaults
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the rendered args %q do not parse with the manager's flags: %v", args, err)
	}
	if fs.NArg() > 0 {
		t.Fatalf("the rendered args leave %q unparsed", fs.Args())
	}
	return o
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

func convert(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s: %v", key(u), err)
	}
}

// TestChartCopiesAreCurrent: the chart's CRDs and the generated RBAC role and
// webhook configurations it templates from are copies of config/ (made by
// `make manifests`), byte for byte. The records CRD is copied into files/, not
// crds/ (templates/records-crd.yaml renders it only for the crd store).
func TestChartCopiesAreCurrent(t *testing.T) {
	pairs := map[string]string{
		"config/rbac/role.yaml":         "dist/chart/files/role.yaml",
		"config/webhook/manifests.yaml": "dist/chart/files/webhooks.yaml",
	}
	bases, err := filepath.Glob(filepath.Join(root, "config/crd/bases/*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	recordsCRDFile := "records.partnergov.io_decisionrecords.yaml"
	for _, b := range bases {
		dir := "dist/chart/crds/"
		if filepath.Base(b) == recordsCRDFile {
			dir = "dist/chart/files/"
		}
		pairs["config/crd/bases/"+filepath.Base(b)] = dir + filepath.Base(b)
	}
	if _, ok := pairs["config/crd/bases/"+recordsCRDFile]; !ok {
		t.Fatalf("config/crd/bases has no %s", recordsCRDFile)
	}
	copies, _ := filepath.Glob(filepath.Join(root, "dist/chart/crds/*.yaml"))
	if len(copies) != len(bases)-1 {
		t.Errorf("dist/chart/crds has %d files, config/crd/bases %d (all but the records CRD belong there): run `make manifests`", len(copies), len(bases))
	}
	if _, err := os.Stat(filepath.Join(root, "dist/chart/crds", recordsCRDFile)); err == nil {
		t.Errorf("dist/chart/crds holds the records CRD: Helm would install it with records.store=postgres too, and never upgrade it")
	}
	for src, dst := range pairs {
		a, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is not a copy of %s: run `make manifests` (or `make chart-sync`)", dst, src)
		}
	}
}

// TestDockerfileCopiesWhatTheBinariesBuildFrom: every package of this module
// that main.go (the manager) or cmd/records-server depends on lies under a
// path the Dockerfile copies into the build stage, the image holds both
// binaries at the paths the Deployments run (/manager, /records-server), and
// the builds are static and stamp the version.
func TestDockerfileCopiesWhatTheBinariesBuildFrom(t *testing.T) {
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	problems := dockerfileProblems(string(df), map[string][]string{
		".":                    goListDeps(t, "."),
		"./cmd/records-server": goListDeps(t, "./cmd/records-server"),
	})
	for _, p := range problems {
		t.Error(p)
	}
}

// TestDockerfileCheckCatchesAMissingCopyOrBinary spoils the Dockerfile in
// each way the check must refuse.
func TestDockerfileCheckCatchesAMissingCopyOrBinary(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	deps := map[string][]string{".": goListDeps(t, "."), "./cmd/records-server": goListDeps(t, "./cmd/records-server")}
	if p := dockerfileProblems(df, deps); len(p) > 0 {
		t.Fatalf("the Dockerfile already fails: %v", p)
	}
	for name, spoil := range map[string][2]string{
		"the records server's sources not copied": {"COPY cmd/records-server/ cmd/records-server/\n", ""},
		"the records server not built":            {"./cmd/records-server", "./cmd/other"},
		"the records server not in the image":     {"/workspace/records-server ./", "./"},
		"the manager's sources not copied":        {"COPY controllers/ controllers/\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(df, spoil[0]) {
				t.Fatalf("the Dockerfile has no %q to spoil", spoil[0])
			}
			p := dockerfileProblems(strings.Replace(df, spoil[0], spoil[1], 1), deps)
			if len(p) == 0 {
				t.Fatal("the spoiled Dockerfile passed the check")
			}
			t.Logf("caught: %s", strings.Join(p, "; "))
		})
	}
}

// goListDeps lists the packages of this module that the main package at pkg depends on.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out := command(t, "go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
	const module = "github.com/partnergov/partnergov"
	var deps []string
	for _, p := range strings.Fields(string(out)) {
		if p == module || strings.HasPrefix(p, module+"/") {
			deps = append(deps, strings.TrimPrefix(strings.TrimPrefix(p, module), "/"))
		}
	}
	if len(deps) < 2 {
		t.Fatalf("go list found %d packages of the module for %s", len(deps), pkg)
	}
	return deps
}

// dockerfileProblems checks a Dockerfile against the module packages each
// main package (by its go build path) depends on, as paths relative to the module.
func dockerfileProblems(df string, deps map[string][]string) []string {
	var out []string
	var copied []string
	for _, m := range regexp.MustCompile(`(?m)^COPY\s+(\S+)\s+\S+\s*$`).FindAllStringSubmatch(df, -1) {
		copied = append(copied, strings.TrimSuffix(m[1], "/"))
	}
	for _, want := range []string{"CGO_ENABLED=0", "-X main.version=${VERSION}", "FROM gcr.io/distroless/static:nonroot", "USER 65532:65532",
		`ENTRYPOINT ["/manager"]`} {
		if !strings.Contains(df, want) {
			out = append(out, fmt.Sprintf("the Dockerfile lacks %q", want))
		}
	}
	// Each binary: built from its package into /workspace/<name>, copied to / in the image.
	builds := map[string]string{".": "manager", "./cmd/records-server": "records-server"}
	final := df[strings.LastIndex(df, "\nFROM ")+1:]
	for pkg, bin := range builds {
		if !regexp.MustCompile(`go build [^\n]*-o ` + regexp.QuoteMeta(bin) + ` ` + regexp.QuoteMeta(pkg) + `\s`).MatchString(df) {
			out = append(out, fmt.Sprintf("the Dockerfile does not build %s into %s", pkg, bin))
		}
		if !regexp.MustCompile(`(?m)^COPY --from=builder [^\n]*/workspace/` + regexp.QuoteMeta(bin) + `[ \t][^\n]*\./?\s*$`).MatchString(final) {
			out = append(out, fmt.Sprintf("the image does not hold /%s (COPY --from=builder /workspace/%s ... ./)", bin, bin))
		}
	}
	for main, pkgs := range deps {
		for _, rel := range pkgs {
			ok := rel == "" && slices.Contains(copied, "main.go")
			for _, c := range copied {
				ok = ok || rel == c || strings.HasPrefix(rel, c+"/")
			}
			if !ok {
				out = append(out, fmt.Sprintf("%s depends on %s, which the Dockerfile does not copy (it copies %v)", main, rel, copied))
			}
		}
	}
	return out
}

// TestChartLints runs `helm lint --strict` on the chart with each variant's
// values (both records stores), checks the values the chart documents change
// what they should, and that bad records values fail the render.
func TestChartLints(t *testing.T) {
	h := tool(t, "bin/helm", "make helm")
	for _, v := range variants {
		args := []string{"lint", "--strict", "dist/chart", "--namespace", namespace}
		for _, s := range v.helmSet {
			args = append(args, "--set", s)
		}
		command(t, h, args...)
	}
	objs := helm(t, "replicaCount=3", "image.repository=registry.example.com/pg", "image.tag=v1.2.3", "image.pullPolicy=Always", "resources.limits.memory=1Gi")
	var dep appsv1.Deployment
	convert(t, find(t, objs, "Deployment", "partnergov-controller-manager"), &dep)
	c := dep.Spec.Template.Spec.Containers[0]
	if *dep.Spec.Replicas != 3 || c.Image != "registry.example.com/pg:v1.2.3" || c.ImagePullPolicy != corev1.PullAlways || c.Resources.Limits.Memory().String() != "1Gi" {
		t.Errorf("values not applied: replicas %d, image %s, pullPolicy %s, memory limit %s", *dep.Spec.Replicas, c.Image, c.ImagePullPolicy, c.Resources.Limits.Memory())
	}
	if len(ofKind(helm(t, "replicaCount=1"), "PodDisruptionBudget")) != 0 {
		t.Error("with one replica the chart still renders a PodDisruptionBudget, which would block every node drain")
	}

	// The records values.
	objs = helm(t, "records.store=postgres", "records.server.replicaCount=3", "records.server.resources.limits.memory=1Gi",
		"records.database.secretName=my-dsn", "records.database.migrationSecretName=my-owner-dsn")
	var rdep appsv1.Deployment
	convert(t, find(t, objs, "Deployment", recordsServer), &rdep)
	rc := rdep.Spec.Template.Spec.Containers[0]
	secrets := map[string]bool{}
	for _, vol := range rdep.Spec.Template.Spec.Volumes {
		if vol.Secret != nil {
			secrets[vol.Secret.SecretName] = true
		}
	}
	var initArgs []string
	if ics := rdep.Spec.Template.Spec.InitContainers; len(ics) == 1 {
		initArgs = ics[0].Args
	}
	if *rdep.Spec.Replicas != 3 || rc.Resources.Limits.Memory().String() != "1Gi" || !secrets["my-dsn"] || !secrets["my-owner-dsn"] ||
		!slices.Contains(initArgs, "--migration-dsn-file=/etc/partnergov/records-migration/dsn") {
		t.Errorf("records values not applied: replicas %d, memory limit %s, Secrets %v, init container args %v", *rdep.Spec.Replicas, rc.Resources.Limits.Memory(), secrets, initArgs)
	}
	var pdbs []string
	for _, u := range ofKind(helm(t, "records.store=postgres", "records.server.replicaCount=1"), "PodDisruptionBudget") {
		pdbs = append(pdbs, u.GetName())
	}
	if slices.Contains(pdbs, recordsServer) {
		t.Error("with one records server replica the chart still renders its PodDisruptionBudget, which would block every node drain")
	}
	// Bad values fail the render with the value's name and the rule.
	h = tool(t, "bin/helm", "make helm")
	for set, want := range map[string]string{
		"records.store=postgress":                             `records.store must be crd or postgres, not "postgress"`,
		"records.store=postgres,records.database.secretName=": "records.database.secretName must name the Secret",
		"records.store=CRD":                                   `records.store must be crd or postgres, not "CRD"`,
	} {
		cmd := exec.Command(h, "template", "partnergov", "dist/chart", "--set", set)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("--set %s: want the render to fail with %q, got %v: %s", set, want, err, out)
		}
	}
}

// TestTheChartNamesTheManagerOfItsReleaseNamespace renders the chart into
// another namespace: the match conditions that let the manager's own writes
// skip the webhooks must name the ServiceAccount of that namespace, and the
// records server's references must point into it.
func TestTheChartNamesTheManagerOfItsReleaseNamespace(t *testing.T) {
	const other = "governance"
	objs := decode(t, command(t, tool(t, "bin/helm", "make helm"), "template", "partnergov", "dist/chart", "--namespace", other))
	want := "'system:serviceaccount:" + other + ":partnergov-controller-manager'"
	n := 0
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		for _, u := range ofKind(objs, kind) {
			ws, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
			for _, w := range ws {
				mcs, _, _ := unstructured.NestedSlice(w.(map[string]any), "matchConditions")
				for _, mc := range mcs {
					n++
					if e := fmt.Sprint(mc.(map[string]any)["expression"]); !strings.Contains(e, want) {
						t.Errorf("%s: match condition %v does not name %s", kind, mc, want)
					}
				}
			}
		}
	}
	if n != 5 {
		t.Errorf("the chart renders %d match conditions, want 5 (config/webhook/controller_writes_patch.yaml)", n)
	}

	// The records server of that namespace: the APIService calls its Service
	// there, its bindings name its ServiceAccount there, and cert-manager
	// issues its certificate for the Service there.
	for _, certMgr := range []bool{false, true} {
		objs := decode(t, command(t, tool(t, "bin/helm", "make helm"), "template", "partnergov", "dist/chart", "--namespace", other,
			"--set", "records.store=postgres", "--set", fmt.Sprintf("certManager.enabled=%t", certMgr)))
		if ns, _, _ := unstructured.NestedString(find(t, objs, "APIService", recordsAPIService).Object, "spec", "service", "namespace"); ns != other {
			t.Errorf("the APIService calls the records Service in %q, not %q", ns, other)
		}
		for _, b := range []*unstructured.Unstructured{
			find(t, objs, "ClusterRoleBinding", "partnergov-records-server-auth-delegator"),
			find(t, objs, "RoleBinding", "partnergov-records-server-auth-reader"),
		} {
			subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
			if len(subjects) != 1 || subjects[0].(map[string]any)["namespace"] != other {
				t.Errorf("%s binds %v, not the records server's ServiceAccount in %s", key(b), subjects, other)
			}
		}
		if ns := find(t, objs, "RoleBinding", "partnergov-records-server-auth-reader").GetNamespace(); ns != "kube-system" {
			t.Errorf("the records server's auth reader binding is in %q, not kube-system", ns)
		}
		if certMgr {
			cert := find(t, objs, "Certificate", recordsCertSecret)
			dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
			if want := recordsServer + "." + other + ".svc"; !slices.Contains(dnsNames, want) {
				t.Errorf("the records Certificate's dnsNames %v lack %s", dnsNames, want)
			}
			if got, want := find(t, objs, "APIService", recordsAPIService).GetAnnotations()["cert-manager.io/inject-ca-from"], other+"/"+recordsCertSecret; got != want {
				t.Errorf("the APIService's cert-manager.io/inject-ca-from is %q, want %q", got, want)
			}
		}
	}
}

package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/records/server"
)

// The records store's objects, as config/records-postgres and the chart name them.
const (
	recordsCRD        = "decisionrecords.records.partnergov.io"
	recordsServer     = "partnergov-records-server" // Deployment, Service, ServiceAccount, PodDisruptionBudget
	recordsAPIService = "v1alpha1.records.partnergov.io"
	// recordsDatabaseSecret and recordsMigrationSecret are created by the
	// operator (docs/operations.md), never shipped: the chart's defaults.
	recordsDatabaseSecret  = "partnergov-records-database"
	recordsMigrationSecret = "partnergov-records-migration"
	recordsCertSecret      = "partnergov-records-server-cert"
)

// recordsWiringProblems checks the records store of a rendering. With the crd
// store: the records CRD and nothing of the records server. With postgres: no
// records CRD, and the records server wired together: the APIService calls
// the Service, which selects the Deployment's pods on the port the server
// listens on (--secure-port); the server mounts the serving certificate's
// Secret (only tls.crt and tls.key) where --tls-cert-file and
// --tls-private-key-file point, the DSN Secret (not shipped) at
// --database-dsn-file, and never the schema owner's migration Secret: with a
// migration Secret, an init container alone mounts it and runs --migrate-only;
// --creator-username is the manager's ServiceAccount's username; the pods are
// hardened, probed over HTTPS (/readyz, /livez), two replicas spread over
// nodes with a PodDisruptionBudget; the server is bound to system:auth-delegator
// and, in kube-system, to extension-apiserver-authentication-reader; and the
// certificate comes from the manager (its flags name the Secret, Service and
// APIService, the Secret ships empty, and its RBAC reaches those two objects)
// or from cert-manager (a Certificate for the Service, and the cainjector
// annotation on the APIService).
func recordsWiringProblems(t *testing.T, v variant, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	get := func(kind, name string) *unstructured.Unstructured {
		for _, u := range objs {
			if u.GetKind() == kind && u.GetName() == name {
				return u
			}
		}
		return nil
	}
	managerDep := get("Deployment", "partnergov-controller-manager")
	if managerDep == nil {
		return []string{"no manager Deployment"}
	}
	var mdep appsv1.Deployment
	convert(t, managerDep, &mdep)
	mo := parseArgs(t, mdep.Spec.Template.Spec.Containers[0].Args)
	managerUser := "system:serviceaccount:" + mdep.Namespace + ":" + mdep.Spec.Template.Spec.ServiceAccountName

	crd := get("CustomResourceDefinition", recordsCRD)
	if !v.postgres {
		if crd == nil {
			bad("the crd records store renders no CRD %s", recordsCRD)
		}
		for _, u := range objs {
			if strings.Contains(u.GetName(), "records-server") || u.GetKind() == "APIService" {
				bad("the crd records store renders %s of the records server", key(u))
			}
		}
		if mo.RecordsServerCert != (app.RecordsServerCert{}) {
			bad("the crd records store passes the manager the records server's certificate flags %+v", mo.RecordsServerCert)
		}
		return out
	}
	if crd != nil {
		bad("the postgres records store renders the CRD %s: kube-apiserver would serve the group from it, not from the records server", recordsCRD)
	}

	// The Deployment.
	depU := get("Deployment", recordsServer)
	if depU == nil {
		return append(out, "the postgres records store renders no Deployment "+recordsServer)
	}
	var dep appsv1.Deployment
	convert(t, depU, &dep)
	if dep.Namespace != namespace {
		bad("the records server's Deployment is in %q, not %q", dep.Namespace, namespace)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		return append(out, fmt.Sprintf("the records server has %d containers, want 1", len(pod.Containers)))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Command, []string{"/records-server"}) {
		bad("the records server's container runs %v, not /records-server (the image's second binary)", c.Command)
	}
	if c.Image != mdep.Spec.Template.Spec.Containers[0].Image {
		bad("the records server runs image %s, the manager %s: both binaries are in one image", c.Image, mdep.Spec.Template.Spec.Containers[0].Image)
	}
	if r := dep.Spec.Replicas; r == nil || *r != 2 {
		bad("the records server has %s replicas, want 2", ptrString(r))
	}
	out = append(out, hardeningProblems("the records server", pod, c)...)
	podLabels := labels.Set(dep.Spec.Template.Labels)
	if sel := dep.Spec.Selector; sel == nil || len(sel.MatchLabels) == 0 || !labels.SelectorFromSet(sel.MatchLabels).Matches(podLabels) {
		bad("the records server's Deployment selector does not match its pods")
	}
	if labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).Matches(labels.Set(mdep.Spec.Template.Labels)) {
		bad("the records server's selector also selects the manager's pods")
	}
	hostSpread := false
	for _, tsc := range pod.TopologySpreadConstraints {
		if tsc.LabelSelector == nil || !labels.SelectorFromSet(tsc.LabelSelector.MatchLabels).Matches(podLabels) {
			bad("the records server's topology spread over %s does not select its pods", tsc.TopologyKey)
		}
		hostSpread = hostSpread || tsc.TopologyKey == corev1.LabelHostname
	}
	if !hostSpread {
		bad("the records server's replicas are not spread over nodes (%s)", corev1.LabelHostname)
	}
	pdbU := get("PodDisruptionBudget", recordsServer)
	if pdbU == nil {
		bad("no PodDisruptionBudget %s", recordsServer)
	} else {
		var pdb policyv1.PodDisruptionBudget
		convert(t, pdbU, &pdb)
		if pdb.Spec.Selector == nil || len(pdb.Spec.Selector.MatchLabels) == 0 || !labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(podLabels) {
			bad("the records server's PodDisruptionBudget does not select its pods")
		}
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
			bad("the records server's PodDisruptionBudget minAvailable %v, want 1", pdb.Spec.MinAvailable)
		}
	}

	// The args, with the records server's own flags ($(VAR) expanded as the kubelet does).
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env[e.Name] = dep.Namespace
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		}
	}
	parse := func(who string, c corev1.Container) *server.Options {
		args := make([]string, len(c.Args))
		for i, a := range c.Args {
			args[i] = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).ReplaceAllStringFunc(a, func(m string) string {
				if v, ok := env[m[2:len(m)-1]]; ok {
					return v
				}
				return m // the kubelet leaves an unknown reference as it is
			})
		}
		so := server.NewOptions()
		fs := pflag.NewFlagSet("records-server", pflag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		so.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			bad("%s's args %q do not parse with its flags: %v", who, c.Args, err)
			return nil
		}
		if fs.NArg() > 0 {
			bad("%s's args leave %q unparsed", who, fs.Args())
		}
		if err := so.Validate(); err != nil {
			bad("%s's args do not validate: %v", who, err)
		}
		return so
	}
	so := parse("the records server", c)
	if so == nil {
		return out
	}
	if so.MigrateOnly {
		bad("the records server's container runs --migrate-only: it would serve nothing")
	}
	if so.Creator != managerUser {
		bad("--creator-username %q, the manager runs as %q: the manager could not record decisions", so.Creator, managerUser)
	}

	// Ports, probes and the Service.
	port := int32(0)
	for _, p := range c.Ports {
		if p.Name == "https" {
			port = p.ContainerPort
		}
	}
	if port == 0 || int(port) != so.SecureServing.BindPort {
		bad("the records server listens on --secure-port %d, its container port https is %d", so.SecureServing.BindPort, port)
	}
	resolves := func(p intstr.IntOrString) bool {
		return (p.Type == intstr.String && p.StrVal == "https" && port != 0) || (p.Type == intstr.Int && p.IntVal == int32(so.SecureServing.BindPort))
	}
	for name, pr := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/livez": c.LivenessProbe} {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != name || pr.HTTPGet.Scheme != corev1.URISchemeHTTPS || !resolves(pr.HTTPGet.Port) {
			bad("the records server has no %s probe over HTTPS on its secure port", name)
		}
	}
	var svc corev1.Service
	if u := get("Service", recordsServer); u == nil {
		return append(out, "no Service "+recordsServer)
	} else {
		convert(t, u, &svc)
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		bad("the Service %s does not select the records server's pods", svc.Name)
	}
	if len(svc.Spec.Ports) != 1 || !resolves(svc.Spec.Ports[0].TargetPort) {
		bad("the Service %s does not target the records server's port %d: %+v", svc.Name, so.SecureServing.BindPort, svc.Spec.Ports)
	}

	// The APIService calls the Service.
	apiU := get("APIService", recordsAPIService)
	if apiU == nil {
		return append(out, "no APIService "+recordsAPIService)
	}
	spec, _, _ := unstructured.NestedMap(apiU.Object, "spec")
	svcRef, _, _ := unstructured.NestedMap(spec, "service")
	if spec["group"] != recordsv1alpha1.GroupVersion.Group || spec["version"] != recordsv1alpha1.GroupVersion.Version {
		bad("the APIService registers %v/%v, not %s", spec["group"], spec["version"], recordsv1alpha1.GroupVersion)
	}
	if svcRef["name"] != svc.Name || svcRef["namespace"] != svc.Namespace || fmt.Sprint(svcRef["port"]) != strconv.Itoa(int(svc.Spec.Ports[0].Port)) {
		bad("the APIService calls %v/%v:%v, the records Service is %s/%s:%d", svcRef["namespace"], svcRef["name"], svcRef["port"], svc.Namespace, svc.Name, svc.Spec.Ports[0].Port)
	}
	if spec["caBundle"] != nil || spec["insecureSkipTLSVerify"] == true {
		bad("the APIService carries a caBundle or skips TLS verification: the CA is injected at run time")
	}
	for _, f := range []string{"groupPriorityMinimum", "versionPriority"} {
		if n, err := strconv.ParseFloat(fmt.Sprint(spec[f]), 64); err != nil || n <= 0 {
			bad("the APIService's %s is %v", f, spec[f])
		}
	}

	// Mounted Secrets: each file flag's directory is a Secret volume projecting the file's key.
	mountedSecretIn := func(c corev1.Container, file, key string) (string, bool) {
		for _, m := range c.VolumeMounts {
			if m.MountPath != path.Dir(file) {
				continue
			}
			for _, vol := range pod.Volumes {
				if vol.Name != m.Name || vol.Secret == nil {
					continue
				}
				if len(vol.Secret.Items) == 0 {
					return vol.Secret.SecretName, path.Base(file) == key
				}
				for _, it := range vol.Secret.Items {
					if it.Path == path.Base(file) {
						return vol.Secret.SecretName, it.Key == key
					}
				}
				return vol.Secret.SecretName, false
			}
		}
		return "", false
	}
	mountedSecret := func(file, key string) (string, bool) { return mountedSecretIn(c, file, key) }
	certSecret := ""
	for _, f := range []struct{ flag, file, key string }{
		{"--tls-cert-file", so.SecureServing.ServerCert.CertKey.CertFile, "tls.crt"},
		{"--tls-private-key-file", so.SecureServing.ServerCert.CertKey.KeyFile, "tls.key"},
	} {
		s, ok := mountedSecret(f.file, f.key)
		if !ok {
			bad("%s %q is not key %s of a mounted Secret", f.flag, f.file, f.key)
		}
		if certSecret != "" && s != certSecret {
			bad("the certificate and its key come from two Secrets, %s and %s", certSecret, s)
		}
		certSecret = s
	}
	for _, vol := range pod.Volumes {
		if vol.Secret != nil && vol.Secret.SecretName == certSecret {
			if len(vol.Secret.Items) == 0 || slices.ContainsFunc(vol.Secret.Items, func(k corev1.KeyToPath) bool { return k.Key == "ca.key" }) {
				bad("the records server mounts all of %s, the CA's key included; project tls.crt and tls.key only", certSecret)
			}
		}
	}
	if s, ok := mountedSecret(so.DSNFile, "dsn"); !ok || s != recordsDatabaseSecret {
		bad("--database-dsn-file %q is not key dsn of the mounted Secret %s (got %q)", so.DSNFile, recordsDatabaseSecret, s)
	}
	// The schema owner's DSN: only the init container that migrates mounts
	// it; the serving container, which anyone who gets into it runs as,
	// holds the records role's alone.
	if so.MigrationDSNFile != "" || so.MigrationDSN != "" {
		bad("the records server's serving container gets the schema owner's DSN (--migration-dsn-file %q): only the init container that migrates may hold it", so.MigrationDSNFile)
	}
	owners := map[string]bool{} // volumes of the migration Secret
	for _, vol := range pod.Volumes {
		if vol.Secret != nil && vol.Secret.SecretName == recordsMigrationSecret {
			owners[vol.Name] = true
		}
		if vol.Projected != nil {
			for _, src := range vol.Projected.Sources {
				if src.Secret != nil && src.Secret.Name == recordsMigrationSecret {
					owners[vol.Name] = true
				}
			}
		}
	}
	holdsOwner := func(c corev1.Container) bool {
		for _, m := range c.VolumeMounts {
			if owners[m.Name] {
				return true
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && e.SecretRef.Name == recordsMigrationSecret {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == recordsMigrationSecret {
				return true
			}
		}
		return false
	}
	for _, ctr := range pod.Containers {
		if holdsOwner(ctr) {
			bad("the records server's container %s mounts the schema owner's Secret %s: only the init container that migrates may", ctr.Name, recordsMigrationSecret)
		}
	}
	if v.migration {
		if len(pod.InitContainers) != 1 {
			bad("the records server has %d init containers, want 1 that migrates as the schema's owner", len(pod.InitContainers))
		} else {
			ic := pod.InitContainers[0]
			if !slices.Equal(ic.Command, []string{"/records-server"}) || ic.Image != c.Image {
				bad("the records server's init container runs %v of %s, not /records-server of %s", ic.Command, ic.Image, c.Image)
			}
			out = append(out, securityProblems("the records server's init container", pod, ic)...)
			if io := parse("the records server's init container", ic); io != nil {
				if !io.MigrateOnly {
					bad("the records server's init container does not run --migrate-only: it would serve, and never exit")
				}
				if s, ok := mountedSecretIn(ic, io.MigrationDSNFile, "dsn"); !ok || s != recordsMigrationSecret {
					bad("the init container's --migration-dsn-file %q is not key dsn of the mounted Secret %s (got %q)", io.MigrationDSNFile, recordsMigrationSecret, s)
				}
			}
		}
	} else {
		if len(pod.InitContainers) > 0 || len(owners) > 0 {
			bad("the records server has init containers %d, or the migration Secret mounted, without a migration Secret in this variant", len(pod.InitContainers))
		}
	}
	for _, s := range []string{recordsDatabaseSecret, recordsMigrationSecret} {
		if get("Secret", s) != nil {
			bad("the install ships the Secret %s: its DSN is the operator's, and a sync would overwrite it", s)
		}
	}

	// The server's identity and its delegated authentication and authorization.
	sa := pod.ServiceAccountName
	if get("ServiceAccount", sa) == nil {
		bad("the records server runs as ServiceAccount %q, which the install does not create", sa)
	}
	if sa == mdep.Spec.Template.Spec.ServiceAccountName {
		bad("the records server runs as the manager's ServiceAccount")
	}
	for _, want := range []struct{ bindingKind, bindingNS, roleKind, role string }{
		{"ClusterRoleBinding", "", "ClusterRole", "system:auth-delegator"},
		{"RoleBinding", "kube-system", "Role", "extension-apiserver-authentication-reader"},
	} {
		found := false
		for _, b := range ofKind(objs, want.bindingKind) {
			var rb rbacv1.RoleBinding
			convert(t, &unstructured.Unstructured{Object: map[string]any{"roleRef": b.Object["roleRef"], "subjects": b.Object["subjects"]}}, &rb)
			if b.GetNamespace() == want.bindingNS && rb.RoleRef.Kind == want.roleKind && rb.RoleRef.Name == want.role &&
				slices.Contains(rb.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: sa, Namespace: dep.Namespace}) {
				found = true
			}
		}
		if !found {
			bad("no %s %s binds %s %s to the records server's ServiceAccount %s/%s", want.bindingKind, want.bindingNS, want.roleKind, want.role, dep.Namespace, sa)
		}
	}

	// The serving certificate.
	r := mo.RecordsServerCert
	if !v.certMgr {
		if r.SecretName != certSecret || r.ServiceName != svc.Name || r.APIServiceName != apiU.GetName() {
			bad("the manager rotates the records certificate into %q for Service %q and APIService %q; the install has %q, %q and %q",
				r.SecretName, r.ServiceName, r.APIServiceName, certSecret, svc.Name, apiU.GetName())
		}
		if s := get("Secret", certSecret); s == nil || s.GetNamespace() != namespace || s.Object["data"] != nil || s.Object["stringData"] != nil {
			bad("the records certificate Secret %s must ship empty in %s (the manager writes it; the kubelet waits for its keys)", certSecret, namespace)
		}
		managerSA := rbacv1.Subject{Kind: "ServiceAccount", Name: mdep.Spec.Template.Spec.ServiceAccountName, Namespace: mdep.Namespace}
		for _, verb := range []string{"get", "list", "watch", "update"} {
			if !grants(t, objs, managerSA, namespace, "", "secrets", certSecret, verb) {
				bad("the manager may not %s the Secret %s/%s", verb, namespace, certSecret)
			}
			if !grants(t, objs, managerSA, "", "apiregistration.k8s.io", "apiservices", apiU.GetName(), verb) {
				bad("the manager may not %s the APIService %s", verb, apiU.GetName())
			}
		}
		if ann := apiU.GetAnnotations()["cert-manager.io/inject-ca-from"]; ann != "" {
			bad("the APIService asks cert-manager for its CA (%s) while the manager injects it", ann)
		}
		return out
	}
	if r != (app.RecordsServerCert{}) {
		bad("with cert-manager the manager must not rotate the records certificate: %+v", r)
	}
	var cert *unstructured.Unstructured
	for _, u := range ofKind(objs, "Certificate") {
		if s, _, _ := unstructured.NestedString(u.Object, "spec", "secretName"); s == certSecret {
			cert = u
		}
	}
	if cert == nil {
		return append(out, "no cert-manager Certificate writes the records server's Secret "+certSecret)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if want := svc.Name + "." + svc.Namespace + ".svc"; !slices.Contains(dnsNames, want) {
		bad("the records Certificate's dnsNames %v lack %s, the name the aggregator verifies", dnsNames, want)
	}
	issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	if get("Issuer", issuer) == nil {
		bad("the records Certificate's Issuer %q is not in the install", issuer)
	}
	if got, want := apiU.GetAnnotations()["cert-manager.io/inject-ca-from"], cert.GetNamespace()+"/"+cert.GetName(); got != want {
		bad("the APIService's cert-manager.io/inject-ca-from is %q, want %q", got, want)
	}
	return out
}

// grants reports whether the install's RBAC lets subject verb the object
// group/resource name (in namespace ns; "" for a cluster-scoped one).
func grants(t *testing.T, objs []*unstructured.Unstructured, subject rbacv1.Subject, ns, group, resource, name, verb string) bool {
	t.Helper()
	for _, b := range ofKind(objs, "RoleBinding", "ClusterRoleBinding") {
		var rb rbacv1.RoleBinding
		convert(t, &unstructured.Unstructured{Object: map[string]any{"roleRef": b.Object["roleRef"], "subjects": b.Object["subjects"]}}, &rb)
		if !slices.Contains(rb.Subjects, subject) || (b.GetKind() == "RoleBinding" && (ns == "" || b.GetNamespace() != ns)) {
			continue
		}
		for _, r := range ofKind(objs, rb.RoleRef.Kind) {
			if r.GetName() != rb.RoleRef.Name || (rb.RoleRef.Kind == "Role" && r.GetNamespace() != b.GetNamespace()) {
				continue
			}
			raw, _, _ := unstructured.NestedSlice(r.Object, "rules")
			for _, x := range raw {
				var rule rbacv1.PolicyRule
				convert(t, &unstructured.Unstructured{Object: x.(map[string]any)}, &rule)
				if slices.Contains(rule.APIGroups, group) && slices.Contains(rule.Resources, resource) && slices.Contains(rule.Verbs, verb) &&
					(len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name)) {
					return true
				}
			}
		}
	}
	return false
}

// hardeningProblems: the pod and its container run as the restricted Pod
// Security Standard wants and more (read-only root, no capabilities), with
// requests, limits and both probes.
func hardeningProblems(who string, pod corev1.PodSpec, c corev1.Container) []string {
	out := securityProblems(who, pod, c)
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		out = append(out, who+": no liveness or readiness probe")
	}
	return out
}

// securityProblems is hardeningProblems without the probes (which an init
// container cannot have).
func securityProblems(who string, pod corev1.PodSpec, c corev1.Container) []string {
	var out []string
	psc, sc := pod.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		out = append(out, who+": pod securityContext.runAsNonRoot is not true")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		out = append(out, who+": pod seccompProfile is not RuntimeDefault")
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		out = append(out, who+": container readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		out = append(out, who+": container allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		out = append(out, who+": container capabilities do not drop ALL (or add some)")
	case sc.Privileged != nil && *sc.Privileged:
		out = append(out, who+": container is privileged")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			out = append(out, fmt.Sprintf("%s: no %s request", who, r))
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			out = append(out, fmt.Sprintf("%s: no %s limit", who, r))
		}
	}
	return out
}

// TestRecordsWiringCatchesBreaks breaks the records store's wiring in each
// way recordsWiringProblems must notice, and expects a problem for each.
func TestRecordsWiringCatchesBreaks(t *testing.T) {
	pg, pgCertMgr, pgMigration, crd := variants[3], variants[4], variants[5], variants[0]
	if !pg.postgres || pg.certMgr || !pgCertMgr.postgres || !pgCertMgr.certMgr || !pgMigration.migration || crd.postgres {
		t.Fatal("the variants are not in the order this test expects")
	}
	set := func(kind, name string, value any, fields ...string) func([]*unstructured.Unstructured) {
		return func(objs []*unstructured.Unstructured) {
			if err := unstructured.SetNestedField(find(t, objs, kind, name).Object, value, fields...); err != nil {
				t.Fatal(err)
			}
		}
	}
	container := func(objs []*unstructured.Unstructured, dep string, edit func(c map[string]any)) {
		u := find(t, objs, "Deployment", dep)
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		edit(cs[0].(map[string]any))
		_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
	}
	replaceArg := func(dep, prefix, value string) func([]*unstructured.Unstructured) {
		return func(objs []*unstructured.Unstructured) {
			container(objs, dep, func(c map[string]any) {
				args := c["args"].([]any)
				found := false
				for i, a := range args {
					if strings.HasPrefix(a.(string), prefix) {
						args[i], found = value, true
					}
				}
				if !found {
					t.Fatalf("%s has no arg %s", dep, prefix)
				}
			})
		}
	}
	volume := func(name string, edit func(v map[string]any)) func([]*unstructured.Unstructured) {
		return func(objs []*unstructured.Unstructured) {
			u := find(t, objs, "Deployment", recordsServer)
			vs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "volumes")
			for _, v := range vs {
				if v.(map[string]any)["name"] == name {
					edit(v.(map[string]any))
				}
			}
			_ = unstructured.SetNestedSlice(u.Object, vs, "spec", "template", "spec", "volumes")
		}
	}
	initArgs := func(args []any) func([]*unstructured.Unstructured) {
		return func(objs []*unstructured.Unstructured) {
			u := find(t, objs, "Deployment", recordsServer)
			ics, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "initContainers")
			if len(ics) != 1 {
				t.Fatalf("the records server has %d init containers", len(ics))
			}
			ics[0].(map[string]any)["args"] = args
			_ = unstructured.SetNestedSlice(u.Object, ics, "spec", "template", "spec", "initContainers")
		}
	}
	remove := func(kind, name string) func([]*unstructured.Unstructured) []*unstructured.Unstructured {
		return func(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
			return slices.DeleteFunc(objs, func(u *unstructured.Unstructured) bool { return u.GetKind() == kind && u.GetName() == name })
		}
	}
	type brk struct {
		v      variant
		edit   func([]*unstructured.Unstructured)
		filter func([]*unstructured.Unstructured) []*unstructured.Unstructured
	}
	cases := map[string]brk{
		"APIService calls another Service":    {v: pg, edit: set("APIService", recordsAPIService, "partnergov-webhook-service", "spec", "service", "name")},
		"APIService calls another namespace":  {v: pg, edit: set("APIService", recordsAPIService, "default", "spec", "service", "namespace")},
		"APIService calls another port":       {v: pg, edit: set("APIService", recordsAPIService, int64(8443), "spec", "service", "port")},
		"APIService for another group":        {v: pg, edit: set("APIService", recordsAPIService, "governance.partnergov.io", "spec", "group")},
		"APIService with a rendered caBundle": {v: pg, edit: set("APIService", recordsAPIService, "Zm9v", "spec", "caBundle")},
		"APIService skips TLS verification":   {v: pg, edit: set("APIService", recordsAPIService, true, "spec", "insecureSkipTLSVerify")},
		"no APIService":                       {v: pg, filter: remove("APIService", recordsAPIService)},
		"Service selects the manager":         {v: pg, edit: set("Service", recordsServer, map[string]any{"control-plane": "controller-manager"}, "spec", "selector")},
		"Service targets another port": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			_ = unstructured.SetNestedSlice(find(t, objs, "Service", recordsServer).Object,
				[]any{map[string]any{"name": "https", "port": int64(443), "targetPort": int64(9443)}}, "spec", "ports")
		}},
		"server listens elsewhere": {v: pg, edit: replaceArg(recordsServer, "--secure-port=", "--secure-port=9443")},
		"readiness not on /readyz": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) {
				c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"] = "/livez"
			})
		}},
		"readiness over HTTP": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) {
				c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any)["scheme"] = "HTTP"
			})
		}},
		"not hardened": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) { c["securityContext"].(map[string]any)["readOnlyRootFilesystem"] = false })
		}},
		"no limits": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) { delete(c["resources"].(map[string]any), "limits") })
		}},
		"runs the manager": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) { c["command"] = []any{"/manager"} })
		}},
		"one replica":                      {v: pg, edit: set("Deployment", recordsServer, int64(1), "spec", "replicas")},
		"not spread over nodes":            {v: pg, edit: set("Deployment", recordsServer, []any{}, "spec", "template", "spec", "topologySpreadConstraints")},
		"no PodDisruptionBudget":           {v: pg, filter: remove("PodDisruptionBudget", recordsServer)},
		"budget selects nothing":           {v: pg, edit: set("PodDisruptionBudget", recordsServer, map[string]any{"app": "other"}, "spec", "selector", "matchLabels")},
		"creator is not the manager":       {v: pg, edit: replaceArg(recordsServer, "--creator-username=", "--creator-username=system:serviceaccount:$(POD_NAMESPACE):partnergov-records-server")},
		"manager runs as another SA":       {v: pg, edit: set("Deployment", "partnergov-controller-manager", "someone", "spec", "template", "spec", "serviceAccountName")},
		"DSN file not mounted":             {v: pg, edit: replaceArg(recordsServer, "--database-dsn-file=", "--database-dsn-file=/etc/elsewhere/dsn")},
		"DSN from another Secret":          {v: pg, edit: volume("database", func(v map[string]any) { v["secret"].(map[string]any)["secretName"] = "other" })},
		"DSN Secret shipped":               {v: pg, filter: shipSecret(recordsDatabaseSecret)},
		"certificate key not mounted":      {v: pg, edit: replaceArg(recordsServer, "--tls-private-key-file=", "--tls-private-key-file=/etc/partnergov/records-server/serving-certs/ca.key")},
		"whole certificate Secret mounted": {v: pg, edit: volume("serving-cert", func(v map[string]any) { delete(v["secret"].(map[string]any), "items") })},
		"manager rotates another Secret":   {v: pg, edit: replaceArg("partnergov-controller-manager", "--records-server-cert-secret-name=", "--records-server-cert-secret-name=other")},
		"manager injects another APIService": {v: pg, edit: replaceArg("partnergov-controller-manager", "--records-apiservice-name=",
			"--records-apiservice-name=v1beta1.metrics.k8s.io")},
		"manager issues for another Service": {v: pg, edit: replaceArg("partnergov-controller-manager", "--records-server-service-name=", "--records-server-service-name=other")},
		"manager may not update the Secret": {v: pg, edit: set("Role", "partnergov-records-cert-rotation-role",
			[]any{map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "resourceNames": []any{recordsCertSecret}, "verbs": []any{"get", "list", "watch"}}}, "rules")},
		"manager's APIService role names another": {v: pg, edit: set("ClusterRole", "partnergov-records-cert-rotation-apiservice-role",
			[]any{map[string]any{"apiGroups": []any{"apiregistration.k8s.io"}, "resources": []any{"apiservices"}, "resourceNames": []any{"v1beta1.metrics.k8s.io"}, "verbs": []any{"get", "list", "watch", "update"}}}, "rules")},
		"certificate Secret not shipped": {v: pg, filter: remove("Secret", recordsCertSecret)},
		"no auth-delegator binding":      {v: pg, filter: remove("ClusterRoleBinding", "partnergov-records-server-auth-delegator")},
		"auth reader outside kube-system": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			find(t, objs, "RoleBinding", "partnergov-records-server-auth-reader").SetNamespace(namespace)
		}},
		"auth reader for another subject": {v: pg, edit: set("RoleBinding", "partnergov-records-server-auth-reader",
			[]any{map[string]any{"kind": "ServiceAccount", "name": "records-server", "namespace": "system"}}, "subjects")},
		"no ServiceAccount": {v: pg, filter: remove("ServiceAccount", recordsServer)},
		"records CRD with postgres": {v: pg, filter: func(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
			return append(objs, find(t, kustomize(t, "config/default"), "CustomResourceDefinition", recordsCRD))
		}},
		"no records CRD with crd": {v: crd, filter: remove("CustomResourceDefinition", recordsCRD)},
		"a records server with crd": {v: crd, filter: func(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
			return append(objs, find(t, kustomize(t, pg.kustomize), "APIService", recordsAPIService))
		}},
		"migration Secret without the variant": {v: pg, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) {
				c["args"] = append(c["args"].([]any), "--migration-dsn-file=/etc/partnergov/records-migration/dsn")
			})
		}},
		"migration Secret not mounted": {v: pgMigration, edit: volume("migration-database", func(v map[string]any) {
			v["secret"].(map[string]any)["secretName"] = recordsDatabaseSecret
		})},
		"serving container mounts the owner's Secret": {v: pgMigration, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) {
				c["volumeMounts"] = append(c["volumeMounts"].([]any),
					map[string]any{"name": "migration-database", "mountPath": "/etc/partnergov/records-migration", "readOnly": true})
			})
		}},
		"serving container migrates as the owner": {v: pgMigration, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) {
				c["args"] = append(c["args"].([]any), "--migration-dsn-file=/etc/partnergov/records-migration/dsn")
				c["volumeMounts"] = append(c["volumeMounts"].([]any),
					map[string]any{"name": "migration-database", "mountPath": "/etc/partnergov/records-migration", "readOnly": true})
			})
		}},
		"serving container gets the owner's DSN in env": {v: pgMigration, edit: func(objs []*unstructured.Unstructured) {
			container(objs, recordsServer, func(c map[string]any) {
				c["envFrom"] = []any{map[string]any{"secretRef": map[string]any{"name": recordsMigrationSecret}}}
			})
		}},
		"no init container migrates":        {v: pgMigration, edit: set("Deployment", recordsServer, []any{}, "spec", "template", "spec", "initContainers")},
		"init container serves":             {v: pgMigration, edit: initArgs([]any{"--migration-dsn-file=/etc/partnergov/records-migration/dsn"})},
		"init container reads another file": {v: pgMigration, edit: initArgs([]any{"--migrate-only", "--migration-dsn-file=/etc/elsewhere/dsn"})},
		"init container not hardened": {v: pgMigration, edit: func(objs []*unstructured.Unstructured) {
			u := find(t, objs, "Deployment", recordsServer)
			ics, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "initContainers")
			ics[0].(map[string]any)["securityContext"].(map[string]any)["allowPrivilegeEscalation"] = true
			_ = unstructured.SetNestedSlice(u.Object, ics, "spec", "template", "spec", "initContainers")
		}},
		"cert-manager: APIService annotation names another Certificate": {v: pgCertMgr, edit: func(objs []*unstructured.Unstructured) {
			find(t, objs, "APIService", recordsAPIService).SetAnnotations(map[string]string{"cert-manager.io/inject-ca-from": namespace + "/partnergov-serving-cert"})
		}},
		"cert-manager: Certificate for another name": {v: pgCertMgr, edit: set("Certificate", recordsCertSecret, []any{"partnergov-webhook-service.partnergov-system.svc"}, "spec", "dnsNames")},
		"cert-manager: no Certificate":               {v: pgCertMgr, filter: remove("Certificate", recordsCertSecret)},
		"cert-manager: the manager rotates too": {v: pgCertMgr, edit: func(objs []*unstructured.Unstructured) {
			container(objs, "partnergov-controller-manager", func(c map[string]any) {
				c["args"] = append(c["args"].([]any), "--records-server-cert-secret-name=x", "--records-server-service-name=y", "--records-apiservice-name=v1.z.io")
			})
		}},
	}
	bases := map[string][]*unstructured.Unstructured{}
	for _, v := range []variant{pg, pgCertMgr, pgMigration, crd} {
		bases[v.name] = kustomize(t, v.kustomize)
		if p := recordsWiringProblems(t, v, bases[v.name]); len(p) > 0 {
			t.Fatalf("the %s rendering already fails: %v", v.name, p)
		}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			objs := make([]*unstructured.Unstructured, len(bases[c.v.name]))
			for i, u := range bases[c.v.name] {
				objs[i] = u.DeepCopy()
			}
			if c.edit != nil {
				c.edit(objs)
			}
			if c.filter != nil {
				objs = c.filter(objs)
			}
			p := recordsWiringProblems(t, c.v, objs)
			if len(p) == 0 {
				t.Fatal("the broken wiring passed the check")
			}
			t.Logf("caught: %s", strings.Join(p, "; "))
		})
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "no"
	}
	return strconv.Itoa(int(*p))
}

// shipSecret adds a Secret named name to the install, as a chart that shipped the DSN would.
func shipSecret(name string) func([]*unstructured.Unstructured) []*unstructured.Unstructured {
	return func(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
		s := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": name, "namespace": namespace},
			"stringData": map[string]any{"dsn": "postgres://..."},
		}}
		return append(objs, s)
	}
}

// TestRenderedManagerRotatesTheRecordsServerCertificate installs
// config/default-records-postgres for real and starts the manager with the
// args of the rendered Deployment, as its ServiceAccount (so holding only the
// rendered RBAC), and checks that its second rotator writes a CA and a serving
// certificate into the records server's Secret (shipped empty), valid for
// the records Service's DNS name, with the two keys the records server
// mounts, and injects the CA into the rendered APIService: what the
// aggregator verifies the records server with. (No records server runs: the
// APIService is removed again when the test ends, because an APIService
// without a server holds up namespace deletion in the whole cluster.)
func TestRenderedManagerRotatesTheRecordsServerCertificate(t *testing.T) {
	objs := kustomize(t, "config/default-records-postgres")
	api := find(t, objs, "APIService", recordsAPIService)
	// A records CRD from another test's install (the crd store) would keep
	// the group for itself: switch stores as an operator would, without it.
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	err := admin.Get(ctx, client.ObjectKey{Name: recordsCRD}, crd)
	switch {
	case err == nil:
		if err := admin.Delete(ctx, crd); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "the records CRD and its APIService to go", func() error {
			if err := admin.Get(ctx, client.ObjectKey{Name: recordsCRD}, crd.DeepCopy()); !apierrors.IsNotFound(err) {
				return fmt.Errorf("the CRD is still there (%v)", err)
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(api.GroupVersionKind())
			if err := admin.Get(ctx, client.ObjectKey{Name: recordsAPIService}, got); !apierrors.IsNotFound(err) {
				return fmt.Errorf("the CRD's APIService is still there (%v)", err)
			}
			return nil
		})
	case !apierrors.IsNotFound(err):
		t.Fatal(err)
	}
	installForReal(t, objs)
	t.Cleanup(func() {
		u := api.DeepCopy()
		if err := admin.Delete(context.Background(), u); client.IgnoreNotFound(err) != nil {
			t.Errorf("removing the APIService: %v", err)
		}
	})
	dep := find(t, objs, "Deployment", "partnergov-controller-manager")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	o := parseArgs(t, args)
	r := o.RecordsServerCert
	if r.SecretName != recordsCertSecret || r.APIServiceName != recordsAPIService || r.ServiceName != recordsServer {
		t.Fatalf("the rendered args %q do not rotate the records server's certificate", args)
	}
	serviceAccount, _, _ := unstructured.NestedString(dep.Object, "spec", "template", "spec", "serviceAccountName")

	certDir := t.TempDir()
	o.WebhookHost, o.WebhookPort, o.WebhookCertDir = "127.0.0.1", freePort(t), certDir
	o.HealthProbeBindAddress = "127.0.0.1:" + strconv.Itoa(freePort(t))
	o.MetricsBindAddress = "0"
	o.LeaderElectionNamespace = namespace
	o.SkipNameValidation = true
	t.Setenv("POD_NAMESPACE", namespace)
	user, err := env.AddUser(envtest.User{
		Name:   "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace},
	}, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := app.NewManager(user.Config(), o)
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("the manager stopped with an error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the manager did not stop within 30s")
		}
	})
	// The kubelet's part for the manager's webhook certificate.
	go projectSecret(mgrCtx, t, types.NamespacedName{Namespace: namespace, Name: o.CertRotation.SecretName}, certDir)

	secret := &corev1.Secret{}
	eventually(t, 90*time.Second, "the manager to write the records server's certificate", func() error {
		select {
		case err := <-stopped:
			stopped <- err
			return fmt.Errorf("the manager stopped: %v", err)
		default:
		}
		if err := admin.Get(ctx, types.NamespacedName{Namespace: namespace, Name: recordsCertSecret}, secret); err != nil {
			return err
		}
		for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
			if len(secret.Data[k]) == 0 {
				return fmt.Errorf("no %s yet", k)
			}
		}
		return nil
	})
	dnsName := recordsServer + "." + namespace + ".svc"
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("ca.crt holds no certificate")
	}
	pair, err := tls.X509KeyPair(secret.Data["tls.crt"], secret.Data["tls.key"])
	if err != nil {
		t.Fatalf("tls.crt and tls.key, which the records server mounts, are not a key pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("the records server's certificate does not verify for %s against ca.crt: %v", dnsName, err)
	}
	webhookSecret := &corev1.Secret{}
	if err := admin.Get(ctx, types.NamespacedName{Namespace: namespace, Name: o.CertRotation.SecretName}, webhookSecret); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(webhookSecret.Data["ca.crt"], secret.Data["ca.crt"]) {
		t.Error("the records server and the webhooks share a CA")
	}
	eventually(t, 60*time.Second, "the records server's CA in the APIService", func() error {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(api.GroupVersionKind())
		if err := admin.Get(ctx, client.ObjectKey{Name: recordsAPIService}, got); err != nil {
			return err
		}
		b, _, _ := unstructured.NestedString(got.Object, "spec", "caBundle")
		if b != base64.StdEncoding.EncodeToString(secret.Data["ca.crt"]) {
			return fmt.Errorf("caBundle %.40q…", b)
		}
		return nil
	})
	t.Logf("records server certificate for %v, CA injected into APIService %s", leaf.DNSNames, recordsAPIService)
}

package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/seal"
)

// TestRenderedManagerLeadsAndServesWebhooksWithARotatedCertificate installs
// config/default for real, then starts the manager (app.NewManager) with the
// args of the rendered Deployment, as the Deployment's ServiceAccount and so
// holding only the rendered RBAC, and checks that:
//
//   - it acquires the leader Lease;
//   - it writes a seal key into the seal key Secret the install ships empty;
//   - the rotator writes a CA and a serving certificate into the shipped Secret,
//     valid for the webhook Service's DNS name, and injects the CA as caBundle
//     into every webhook of both rendered configurations;
//   - readiness is gated: until the certificate is on disk the webhook server
//     does not listen and /readyz fails; then /readyz passes;
//   - the webhook server's certificate verifies against the caBundle for the
//     Service's DNS name (dialled locally);
//   - the API server itself calls the webhooks through the rendered Service
//     (see below) and accepts the certificate: a Partner is defaulted by the
//     mutating webhook;
//   - metrics are served over HTTPS only to callers the API server
//     authenticates and authorizes (the rendered metrics-reader ClusterRole).
//
// What a test process cannot do, and how it stands in:
//   - Addresses, ports and the certificate directory are local (the rendered
//     ones are the container's); the Lease namespace is given (in a pod it is
//     read from the ServiceAccount mount) and POD_NAMESPACE is set as the
//     downward API would.
//   - No kubelet mounts the Secret: the test copies it into the certificate
//     directory when it changes, as the kubelet does for a Secret volume.
//   - envtest has no Service networking (no kube-proxy, no DNS, no
//     EndpointSlice controller): the API server runs with
//     --enable-aggregator-routing, which resolves a webhook Service through its
//     EndpointSlices, and the test writes the EndpointSlice the controller would
//     (an FQDN slice for 127.0.0.1, because IP slices refuse loopback). The TLS
//     server name the API server verifies is still the Service's DNS name.
func TestRenderedManagerLeadsAndServesWebhooksWithARotatedCertificate(t *testing.T) {
	objs := kustomize(t, "config/default")
	installForReal(t, objs)
	dep := find(t, objs, "Deployment", "partnergov-controller-manager")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	o := parseArgs(t, args)
	if !o.LeaderElection || !o.CertRotation.Enabled || !o.MetricsSecure {
		t.Fatalf("the rendered args %q do not turn on leader election, cert rotation and secure metrics", args)
	}
	serviceAccount, _, _ := unstructured.NestedString(dep.Object, "spec", "template", "spec", "serviceAccountName")

	// Local stand-ins for what the pod would have (see above).
	certDir := t.TempDir()
	webhookPort, healthPort, metricsPort := freePort(t), freePort(t), freePort(t)
	o.WebhookHost, o.WebhookPort, o.WebhookCertDir = "127.0.0.1", webhookPort, certDir
	o.HealthProbeBindAddress = "127.0.0.1:" + strconv.Itoa(healthPort)
	o.MetricsBindAddress = "127.0.0.1:" + strconv.Itoa(metricsPort)
	o.LeaderElectionNamespace = namespace
	o.SkipNameValidation = true
	t.Setenv("POD_NAMESPACE", namespace)

	// The ServiceAccount's identity: RBAC matches ServiceAccount subjects by this user name.
	user, err := env.AddUser(envtest.User{
		Name:   "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace},
	}, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
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
	managerFailed := func() error {
		select {
		case err := <-stopped:
			stopped <- err
			return fmt.Errorf("the manager stopped: %v", err)
		default:
			return nil
		}
	}

	// The leader Lease.
	lease := &coordinationv1.Lease{}
	eventually(t, 60*time.Second, "the manager to acquire the leader Lease", func() error {
		if err := managerFailed(); err != nil {
			return err
		}
		if err := admin.Get(ctx, types.NamespacedName{Namespace: namespace, Name: leaseName}, lease); err != nil {
			return err
		}
		if ptr.Deref(lease.Spec.HolderIdentity, "") == "" {
			return errors.New("no holder yet")
		}
		return nil
	})
	t.Logf("Lease %s/%s held by %s after %v", namespace, leaseName, *lease.Spec.HolderIdentity, time.Since(start).Round(time.Millisecond))

	// The seal key Secret, shipped empty, gets a key from the manager, and the
	// adoption of what was stored before (nothing, here) ends.
	eventually(t, 60*time.Second, "the manager to write its seal key and end adoption", func() error {
		if err := managerFailed(); err != nil {
			return err
		}
		var s corev1.Secret
		if err := admin.Get(ctx, types.NamespacedName{Namespace: namespace, Name: o.SealKeySecret}, &s); err != nil {
			return err
		}
		if _, err := seal.Parse(s.Data[seal.SecretKey]); err != nil {
			return fmt.Errorf("no seal key yet: %w", err)
		}
		if s.Annotations[seal.AnnotationAdoption] != "" {
			return errors.New("adoption has not ended")
		}
		return nil
	})

	// The Secret gets a CA and a serving certificate for the Service's DNS name.
	secret := &corev1.Secret{}
	eventually(t, 60*time.Second, "the rotator to write the certificate Secret", func() error {
		if err := managerFailed(); err != nil {
			return err
		}
		if err := admin.Get(ctx, types.NamespacedName{Namespace: namespace, Name: o.CertRotation.SecretName}, secret); err != nil {
			return err
		}
		for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
			if len(secret.Data[k]) == 0 {
				return fmt.Errorf("no %s yet", k)
			}
		}
		return nil
	})
	dnsName := o.CertRotation.ServiceName + "." + namespace + ".svc"
	if dnsName != o.CertRotation.DNSName() {
		t.Errorf("the rotator issues for %s, the Service is %s", o.CertRotation.DNSName(), dnsName)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(secret.Data["tls.crt"])
	if block == nil {
		t.Fatal("tls.crt holds no PEM block")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("the serving certificate does not verify for %s against ca.crt: %v", dnsName, err)
	}
	t.Logf("certificate for %v valid until %s", leaf.DNSNames, leaf.NotAfter.Format(time.DateOnly))

	// Gating: the certificate is in the Secret but not yet on disk, so the
	// webhook server must not listen and the pod must not be ready.
	eventually(t, 30*time.Second, "the health endpoint to answer", func() error {
		return httpStatus("http://127.0.0.1:"+strconv.Itoa(healthPort)+"/healthz", http.StatusOK)
	})
	if err := httpStatus("http://127.0.0.1:"+strconv.Itoa(healthPort)+"/readyz", http.StatusOK); err == nil {
		t.Error("/readyz passes before the webhook certificate is mounted")
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(webhookPort), time.Second); err == nil {
		c.Close()
		t.Error("the webhook server listens before its certificate is mounted")
	}

	// Now play the kubelet: project the Secret into the certificate directory.
	go projectSecret(mgrCtx, t, types.NamespacedName{Namespace: namespace, Name: o.CertRotation.SecretName}, certDir)
	eventually(t, 90*time.Second, "/readyz to pass once the certificate is mounted", func() error {
		if err := managerFailed(); err != nil {
			return err
		}
		return httpStatus("http://127.0.0.1:"+strconv.Itoa(healthPort)+"/readyz", http.StatusOK)
	})
	t.Logf("ready after %v", time.Since(start).Round(time.Millisecond))

	// The caBundle is injected into every webhook of both configurations.
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	eventually(t, 30*time.Second, "the caBundle in every webhook", func() error {
		if err := admin.Get(ctx, types.NamespacedName{Name: o.CertRotation.MutatingWebhookConfiguration}, &mwc); err != nil {
			return err
		}
		if err := admin.Get(ctx, types.NamespacedName{Name: o.CertRotation.ValidatingWebhookConfiguration}, &vwc); err != nil {
			return err
		}
		var bundles [][]byte
		for _, w := range mwc.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
		for _, w := range vwc.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
		for i, b := range bundles {
			if !bytes.Equal(b, secret.Data["ca.crt"]) {
				return fmt.Errorf("webhook %d of %d has caBundle %q", i, len(bundles), b)
			}
		}
		return nil
	})
	t.Logf("caBundle injected into %d mutating and %d validating webhooks", len(mwc.Webhooks), len(vwc.Webhooks))

	// The webhook server presents a certificate that verifies against the
	// caBundle for the Service's DNS name, as the API server checks it.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(webhookPort),
		&tls.Config{RootCAs: roots, ServerName: dnsName, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to the webhook server, verified against the caBundle for %s: %v", dnsName, err)
	}
	conn.Close()
	if c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(webhookPort), &tls.Config{RootCAs: x509.NewCertPool(), ServerName: dnsName}); err == nil {
		c.Close()
		t.Error("the webhook's certificate verified against an empty pool: the check above proves nothing")
	}

	// The API server calls the webhooks through the rendered Service.
	t.Run("the API server calls the webhooks through the Service", func(t *testing.T) {
		testNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "deploy-"}}
		if err := admin.Create(ctx, testNS); err != nil {
			t.Fatal(err)
		}
		partner := func() *v1alpha1.Partner {
			return &v1alpha1.Partner{
				ObjectMeta: metav1.ObjectMeta{Namespace: testNS.Name, Name: "probe"},
				Spec:       v1alpha1.PartnerSpec{Program: "global", Type: v1alpha1.PartnerTypeGSI, Owner: "jordan.lee@example.com"},
			}
		}
		// Without endpoints the Service leads nowhere: failurePolicy Fail refuses the write.
		err := admin.Create(ctx, partner(), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), o.CertRotation.ServiceName) {
			t.Fatalf("with no endpoints, want the webhook call through %s to fail, got %v", o.CertRotation.ServiceName, err)
		}
		t.Logf("before the EndpointSlice: %v", err)
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: namespace, Name: o.CertRotation.ServiceName + "-test",
				Labels: map[string]string{discoveryv1.LabelServiceName: o.CertRotation.ServiceName},
			},
			AddressType: discoveryv1.AddressTypeFQDN,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To(int32(webhookPort)), Protocol: ptr.To(corev1.ProtocolTCP)}},
		}
		if err := admin.Create(ctx, slice); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Delete(context.Background(), slice) })
		p := partner()
		// A partner's program must exist (the program's own webhook answers first).
		program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "global"}, Spec: v1alpha1.PartnerProgramSpec{
			Owner: "owner@example.com", Metrics: []v1alpha1.MetricDefinition{{Name: "revenue", Class: v1alpha1.MetricClassOutcome, Unit: "USD",
				FreshnessWindow:  metav1.Duration{Duration: time.Hour},
				TrustedReporters: v1alpha1.Identities{Users: []string{"crm@example.com"}}}},
		}}
		eventually(t, 30*time.Second, "the API server to reach the webhooks through the Service", func() error {
			if err := admin.Create(ctx, program.DeepCopy(), client.DryRunAll); err != nil {
				return err
			}
			if err := admin.Create(ctx, program.DeepCopy()); client.IgnoreAlreadyExists(err) != nil {
				return err
			}
			p = partner()
			return admin.Create(ctx, p, client.DryRunAll)
		})
		if p.Spec.DisplayName != p.Name {
			t.Errorf("the mutating webhook did not default spec.displayName: %q", p.Spec.DisplayName)
		}
	})

	t.Run("metrics are served only to authorized callers", func(t *testing.T) {
		testMetricsAuth(t, metricsPort)
	})
}

func testMetricsAuth(t *testing.T, port int) {
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-"}}
	if err := admin.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name}}
		if err := admin.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns.Name).CreateToken(ctx, name, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(600))},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	scraper, stranger := token("scraper"), token("stranger")
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "scraper-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReader},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "scraper", Namespace: ns.Name}},
	}
	if err := admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	// The metrics certificate is self-signed (no --metrics-cert-dir); a scraper pins or skips it.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed metrics certificate
	get := func(token string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("metrics are served over plain HTTP")
		}
	}
	for _, c := range []struct {
		who, token string
		want       int
	}{{"anonymous", "", http.StatusUnauthorized}, {"an unbound ServiceAccount", stranger, http.StatusForbidden}, {"metrics-reader", scraper, http.StatusOK}} {
		var body string
		eventually(t, 30*time.Second, c.who+" to get "+strconv.Itoa(c.want), func() error {
			code, b, err := get(c.token)
			if err != nil {
				return err
			}
			if body = b; code != c.want {
				return fmt.Errorf("got %d: %s", code, strings.TrimSpace(b))
			}
			return nil
		})
		if c.want == http.StatusOK && !strings.Contains(body, "controller_runtime_") {
			t.Errorf("the metrics lack controller-runtime's: %.200s", body)
		}
	}
}

// installForReal server-side-applies the rendered objects as cluster-admin:
// CRDs first (until Established), then the namespace, then the rest.
func installForReal(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	apply := func(u *unstructured.Unstructured) {
		if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("test-deploy"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s: %v", key(u), err)
		}
	}
	crds := ofKind(objs, "CustomResourceDefinition")
	for _, u := range crds {
		apply(u)
	}
	waitEstablished(t, crds)
	for _, u := range ofKind(objs, "Namespace") {
		apply(u)
	}
	for _, u := range objs {
		if k := u.GetKind(); k != "CustomResourceDefinition" && k != "Namespace" {
			apply(u)
		}
	}
}

func waitEstablished(t *testing.T, crds []*unstructured.Unstructured) {
	t.Helper()
	for _, u := range crds {
		eventually(t, 30*time.Second, "CRD "+u.GetName()+" to be established", func() error {
			crd := &unstructured.Unstructured{}
			crd.SetGroupVersionKind(u.GroupVersionKind())
			if err := admin.Get(ctx, types.NamespacedName{Name: u.GetName()}, crd); err != nil {
				return err
			}
			conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conditions {
				if c, ok := c.(map[string]any); ok && c["type"] == "Established" && c["status"] == "True" {
					return nil
				}
			}
			return errors.New("not established")
		})
	}
}

// projectSecret does the kubelet's part for a Secret volume: it keeps the
// Secret's keys as files in dir, replacing each file atomically when it changes.
func projectSecret(ctx context.Context, t *testing.T, key types.NamespacedName, dir string) {
	for {
		s := &corev1.Secret{}
		if err := admin.Get(ctx, key, s); err == nil {
			for name, data := range s.Data {
				path := filepath.Join(dir, name)
				if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
					continue
				}
				tmp := path + ".tmp"
				if err := os.WriteFile(tmp, data, 0o600); err != nil {
					t.Errorf("projecting the Secret: %v", err)
					return
				}
				if err := os.Rename(tmp, path); err != nil {
					t.Errorf("projecting the Secret: %v", err)
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func httpStatus(url string, want int) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually retries f until it returns nil, failing with its last error after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

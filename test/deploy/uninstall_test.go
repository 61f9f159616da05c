package deploy

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/seal"
)

// The label that marks what an uninstall keeps (the CRDs and the namespace).
const keepLabel = "partnergov.io/keep-on-uninstall"

// The commands of docs/operations.md's "Install, upgrade and uninstall" section, run
// here as they are written there (kubectl and helm from bin/, config/default
// in place of the reader's overlay, the chart's default image).
var (
	kustomizeInstall   = []string{"apply", "--server-side", "-k", "config/default"}
	kustomizeUninstall = []string{"delete", "-k", "config/default", "-l", "!" + keepLabel}
	// The records CRD is a template of the chart (records.store=crd): when it
	// exists already (applied with kubectl, or by kustomize), the release adopts it.
	helmAdoptRecordsCRD = [][]string{
		{"label", "crd", "decisionrecords.records.partnergov.io", "app.kubernetes.io/managed-by=Helm", "--overwrite"},
		{"annotate", "crd", "decisionrecords.records.partnergov.io", "meta.helm.sh/release-name=partnergov", "meta.helm.sh/release-namespace=" + namespace, "--overwrite"},
	}
	helmInstall        = []string{"install", "partnergov", "dist/chart", "--namespace", namespace, "--create-namespace"}
	helmLabelNamespace = []string{"label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"}
	helmUpgradeCRDs    = []string{"apply", "--server-side", "-f", "dist/chart/crds/"}
	helmUpgrade        = []string{"upgrade", "partnergov", "dist/chart", "--namespace", namespace}
	helmUninstall      = []string{"uninstall", "partnergov", "--namespace", namespace}
)

// TestInstallUpgradeUninstall runs docs/operations.md's commands for both packages
// against the test API server and checks what they promise: an upgrade (or a
// GitOps re-sync) keeps the certificate the manager wrote into the Secret and
// the caBundle it injected into the webhook configurations; an uninstall
// removes the controller but keeps the CRDs, the program's objects and the
// namespace. (No manager runs here; the test writes the certificate and the
// caBundle as the rotator would, with its field manager.)
func TestInstallUpgradeUninstall(t *testing.T) {
	kubectl := tool(t, "bin/k8s/kubectl", "make controlplane")
	helmBin := tool(t, "bin/helm", "make helm")
	user, err := env.AddUser(envtest.User{Name: "cli-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(bin string, args ...string) {
		t.Helper()
		var out bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String())
		}
		t.Logf("$ %s %s\n%s", filepath.Base(bin), strings.Join(args, " "), strings.TrimSpace(out.String()))
	}

	objs := kustomize(t, "config/default")
	crds := ofKind(objs, "CustomResourceDefinition")
	var removed []*unstructured.Unstructured // what an uninstall must delete
	for _, u := range objs {
		if u.GetLabels()[keepLabel] == "" {
			removed = append(removed, u)
		}
	}
	if len(removed) < 10 || len(crds) == 0 {
		t.Fatalf("%d objects to remove and %d CRDs: the keep label is on too much", len(removed), len(crds))
	}

	// Start from no install (another test may have left one), with the CRDs
	// and one program object that must outlive every uninstall.
	run(kubectl, append(kustomizeUninstall, "--ignore-not-found")...)
	// (Forced: other tests may have applied the CRDs with their own field manager.)
	run(kubectl, "apply", "--server-side", "--force-conflicts", "-k", "config/crd")
	waitEstablished(t, crds)
	programNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "program-"}}
	if err := admin.Create(ctx, programNS); err != nil {
		t.Fatal(err)
	}
	partner := &v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Namespace: programNS.Name, Name: "keep-me"},
		Spec:       v1alpha1.PartnerSpec{Program: "global", Type: v1alpha1.PartnerTypeGSI, Owner: "jordan.lee@example.com"},
	}
	if err := admin.Create(ctx, partner); err != nil {
		t.Fatal(err)
	}

	exists := func(u *unstructured.Unstructured) bool {
		t.Helper()
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(u.GroupVersionKind())
		err := admin.Get(ctx, client.ObjectKeyFromObject(u), got)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil && got.GetDeletionTimestamp() == nil
	}
	checkKept := func(after string) {
		t.Helper()
		for _, u := range crds {
			if !exists(u) {
				t.Errorf("%s deleted the CRD %s", after, u.GetName())
			}
		}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(partner), &v1alpha1.Partner{}); err != nil {
			t.Errorf("%s: Partner %s/%s: %v", after, partner.Namespace, partner.Name, err)
		}
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		ns.SetName(namespace)
		if !exists(ns) {
			t.Errorf("%s deleted the namespace %s", after, namespace)
		}
	}
	checkRemoved := func(after string, objs []*unstructured.Unstructured) {
		t.Helper()
		for _, u := range objs {
			if exists(u) {
				t.Errorf("%s left %s", after, key(u))
			}
		}
	}
	ca := []byte("-----BEGIN CERTIFICATE-----\nstand-in for the rotator's CA\n-----END CERTIFICATE-----\n")
	sealKey := []byte("stand-in-for-the-managers-seal-key-0123456789\n")
	injectAsRotator := func() {
		t.Helper()
		rot := app.Defaults.CertRotation
		for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
			name := map[string]string{"MutatingWebhookConfiguration": rot.MutatingWebhookConfiguration, "ValidatingWebhookConfiguration": rot.ValidatingWebhookConfiguration}[kind]
			w := &unstructured.Unstructured{}
			w.SetAPIVersion("admissionregistration.k8s.io/v1")
			w.SetKind(kind)
			if err := admin.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
				t.Fatal(err)
			}
			hooks, _, _ := unstructured.NestedSlice(w.Object, "webhooks")
			for _, h := range hooks { // caBundle is base64 in JSON
				_ = unstructured.SetNestedField(h.(map[string]any), b64(ca), "clientConfig", "caBundle")
			}
			_ = unstructured.SetNestedSlice(w.Object, hooks, "webhooks")
			if err := admin.Update(ctx, w, client.FieldOwner("partnergov-cert-rotation")); err != nil {
				t.Fatal(err)
			}
		}
		s := &corev1.Secret{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: rot.SecretName}, s); err != nil {
			t.Fatal(err)
		}
		s.Data = map[string][]byte{"ca.crt": ca, "tls.crt": ca, "tls.key": []byte("key")}
		if err := admin.Update(ctx, s, client.FieldOwner("partnergov-cert-rotation")); err != nil {
			t.Fatal(err)
		}
		// The seal key, as the manager writes it into the Secret shipped empty.
		sk := &corev1.Secret{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: sealKeySecret}, sk); err != nil {
			t.Fatal(err)
		}
		sk.Data = map[string][]byte{seal.SecretKey: sealKey}
		if err := admin.Update(ctx, sk, client.FieldOwner("partnergov-manager")); err != nil {
			t.Fatal(err)
		}
	}
	checkCertKept := func(after string) {
		t.Helper()
		rot := app.Defaults.CertRotation
		s := &corev1.Secret{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: rot.SecretName}, s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.Data["ca.crt"], ca) || len(s.Data["tls.key"]) == 0 {
			t.Errorf("%s dropped the certificate from Secret %s: %v", after, rot.SecretName, s.Data)
		}
		sk := &corev1.Secret{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: sealKeySecret}, sk); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sk.Data[seal.SecretKey], sealKey) {
			t.Errorf("%s dropped the seal key from Secret %s: every seal would stop verifying", after, sealKeySecret)
		}
		for kind, name := range map[string]string{"MutatingWebhookConfiguration": rot.MutatingWebhookConfiguration, "ValidatingWebhookConfiguration": rot.ValidatingWebhookConfiguration} {
			w := &unstructured.Unstructured{}
			w.SetAPIVersion("admissionregistration.k8s.io/v1")
			w.SetKind(kind)
			if err := admin.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
				t.Fatal(err)
			}
			hooks, _, _ := unstructured.NestedSlice(w.Object, "webhooks")
			for _, h := range hooks {
				if got, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle"); got != b64(ca) {
					t.Errorf("%s dropped the caBundle of %s %s", after, kind, name)
				}
			}
		}
	}

	t.Run("kustomize", func(t *testing.T) {
		run(kubectl, kustomizeInstall...)
		if !exists(find(t, objs, "Deployment", "partnergov-controller-manager")) {
			t.Fatal("the install created no Deployment")
		}
		injectAsRotator()
		run(kubectl, kustomizeInstall...) // the upgrade, or a GitOps sync
		checkCertKept("kubectl apply --server-side -k config/default (upgrade)")
		run(kubectl, kustomizeUninstall...)
		checkRemoved("the kustomize uninstall", removed)
		checkKept("the kustomize uninstall")
	})

	t.Run("helm", func(t *testing.T) {
		hobjs := helm(t)
		var chartObjs []*unstructured.Unstructured // templates/, which uninstall removes; crds/ and the records CRD (resource-policy keep) stay
		for _, u := range hobjs {
			if u.GetKind() != "CustomResourceDefinition" {
				chartObjs = append(chartObjs, u)
			}
		}
		if len(ofKind(hobjs, "CustomResourceDefinition")) != len(crds) {
			t.Fatalf("helm renders %d CRDs, kustomize %d", len(ofKind(hobjs, "CustomResourceDefinition")), len(crds))
		}
		for _, adopt := range helmAdoptRecordsCRD {
			run(kubectl, adopt...)
		}
		run(helmBin, helmInstall...)
		run(kubectl, append(helmLabelNamespace, "--overwrite")...)
		if !exists(find(t, hobjs, "Deployment", "partnergov-controller-manager")) {
			t.Fatal("helm install created no Deployment")
		}
		injectAsRotator()
		run(kubectl, helmUpgradeCRDs...)
		run(helmBin, helmUpgrade...)
		checkCertKept("helm upgrade")
		run(helmBin, helmUninstall...)
		checkRemoved("helm uninstall", chartObjs)
		checkKept("helm uninstall")
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

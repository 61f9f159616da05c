package controllers_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/partnergov/partnergov/api/v1alpha1"
	ac "github.com/partnergov/partnergov/api/v1alpha1/applyconfiguration/api/v1alpha1"
)

// The examples under examples/integrations run as separate programs, as a
// partner's integration would run them, against the suite's API server with a
// kubeconfig holding only a token of the partner's <partner>-integration
// ServiceAccount.

// debianPython is the interpreter Debian's python3-kubernetes installs into
// (make test's test-tools installs the package; a python3 earlier on the PATH,
// such as a virtualenv's, does not see it).
const debianPython = "/usr/bin/python3"

func TestTheGoExampleReporterAppliesEvidenceAsThePartnersIntegration(t *testing.T) {
	g := NewWithT(t)
	bin := filepath.Join(t.TempDir(), "go-reporter")
	build := exec.Command("go", "build", "-o", bin, "./examples/integrations/go-reporter")
	build.Dir = env.Root
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "go build: %s", out)
	testExampleReporter(t, g, "go-lms", func(args ...string) *exec.Cmd { return exec.Command(bin, args...) })
}

func TestThePythonExampleReporterAppliesEvidenceAsThePartnersIntegration(t *testing.T) {
	g := NewWithT(t)
	script := filepath.Join(env.Root, "examples", "integrations", "python-reporter", "report.py")
	testExampleReporter(t, g, "python-lms", func(args ...string) *exec.Cmd {
		return exec.Command(debianPython, append([]string{script}, args...)...)
	})
}

// testExampleReporter runs a reporter as partner A's integration: its report for
// A lands, owned by its field manager and stamped with the integration's
// identity; its report for partner B is refused, and it exits non-zero with the
// server's reason.
func testExampleReporter(t *testing.T, g *WithT, fieldManager string, reporter func(args ...string) *exec.Cmd) {
	t.Helper()
	ns := newNamespace(t)
	program := selfReportingProgram(t, ns)
	a := settledPartnerWithoutTier(t, g, ns, program.Name, withIntegration)
	b := settledPartnerWithoutTier(t, g, ns, program.Name, withIntegration)
	identity := v1alpha1.IntegrationName(a.Name)
	kubeconfig := integrationKubeconfig(t, g, a)

	run := func(partner string) (exitCode int, stdout, stderr string) {
		cmd := reporter("--kubeconfig", kubeconfig, "--namespace", ns, "--partner", partner,
			"--metric", "training", "--value", "12", "--field-manager", fieldManager)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
			t.Fatalf("starting %s: %v", cmd.Path, err)
		}
		return cmd.ProcessState.ExitCode(), o.String(), e.String()
	}

	source := "system:serviceaccount:" + ns + ":" + identity
	code, stdout, stderr := run(a.Name)
	g.Expect(code).To(BeZero(), "stdout: %s\nstderr: %s", stdout, stderr)
	g.Expect(stdout).To(ContainSubstring("reported training=12 for %s/%s as %s (trusted via group:system:serviceaccounts:%s)", ns, a.Name, source, ns))

	stored := getPartner(g, a)
	g.Expect(stored.Status.Evidence).To(ConsistOf(And(
		HaveField("Metric", "training"), HaveField("Value", v1alpha1.Decimal("12")), HaveField("Source", source))))
	g.Expect(stored.ManagedFields).To(ContainElement(And(
		HaveField("Manager", fieldManager), HaveField("Operation", metav1.ManagedFieldsOperationApply),
		HaveField("Subresource", "status"))), "a server-side apply of the status by %s", fieldManager)
	owned, err := ac.ExtractPartnerStatus(stored, fieldManager)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(owned.Status).NotTo(BeNil(), "%s owns nothing in the status", fieldManager)
	g.Expect(owned.Status.Evidence).To(ConsistOf(And(
		HaveField("Metric", HaveValue(Equal("training"))), HaveField("Value", HaveValue(Equal(v1alpha1.Decimal("12")))))))

	// docs/integrations.md promises: the same token writing another partner's status gets 403.
	code, stdout, stderr = run(b.Name)
	g.Expect(code).To(Equal(1), "stdout: %s\nstderr: %s", stdout, stderr)
	g.Expect(stderr).To(ContainSubstring("the server refused the report (403 Forbidden)"))
	g.Expect(stderr).To(ContainSubstring(`User "%s" cannot patch resource "partners/status"`, source))
	g.Expect(getPartner(g, b).Status.Evidence).To(BeEmpty())
}

// integrationKubeconfig writes a kubeconfig holding only a fresh token of the
// partner's integration ServiceAccount (no client certificate), once RBAC lets
// it report for the partner.
func integrationKubeconfig(t *testing.T, g *WithT, p *v1alpha1.Partner) string {
	t.Helper()
	ns, sa := p.Namespace, v1alpha1.IntegrationName(p.Name)
	cfg := tokenConfig(t, g, ns, sa)
	// The RoleBinding follows the Role, and the API server's RBAC cache follows both.
	eventually(g, func(g Gomega) {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:" + ns + ":" + sa,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: "patch", Group: v1alpha1.GroupVersion.Group,
				Resource: "partners", Subresource: "status", Name: p.Name,
			},
		}}
		g.Expect(admin.Create(ctx, review)).To(Succeed())
		g.Expect(review.Status.Allowed).To(BeTrue(), review.Status.Reason)
	}).Should(Succeed())

	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["integration"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["integration"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "integration", Namespace: ns}
	kc.CurrentContext = "integration"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(clientcmd.WriteToFile(*kc, path)).To(Succeed())
	return path
}

package controllers_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/plugin"
)

// pluginAs returns a function that runs `kubectl partnergov` with a kubeconfig
// of the named user, after granting it the given cluster-wide rules.
func pluginAs(t *testing.T, g Gomega, name string, groups []string, rules ...rbacv1.PolicyRule) func(args ...string) (string, error) {
	t.Helper()
	if len(rules) > 0 {
		userClient(t, name, groups, rules...)
	}
	user, err := env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	g.Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
		err := plugin.Run(ctx, streams, append(args, "--kubeconfig", path))
		return out.String(), err
	}
}

// readRule allows verbs on the named partnergov resources.
func readRule(verbs []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: resources, Verbs: verbs}
}

func TestThePluginExplainsAPartnersTierWithTheEvidenceBehindIt(t *testing.T) {
	g := NewWithT(t)
	program, entry, selectTier := ladder(t, 90*24*time.Hour, time.Hour)
	ns := newNamespace(t)
	p := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	run := pluginAs(t, g, uniqueName("analyst")+"@example.com", nil,
		readRule([]string{"get"}, "partners", "partnerprograms"), readRule([]string{"list"}, "partnertiers"))
	out, err := run("explain", "partner", p.Name, "-n", ns)
	g.Expect(err).NotTo(HaveOccurred(), out)

	g.Expect(out).To(ContainSubstring("Partner:              %s/%s (GSI, program %s)\n", ns, p.Name, program.Name))
	g.Expect(out).To(MatchRegexp(`Tier:\s+%s \(rank 1\), since \S+Z \(\S+ ago\)\n`, selectTier))
	g.Expect(out).To(MatchRegexp(`Qualified tier:\s+%s\n`, selectTier))
	g.Expect(out).To(MatchRegexp(`Demotion deadline:\s+-\n`))
	g.Expect(out).To(MatchRegexp(`Next deadline:\s+\S+Z \(in 89d\): evidence of (revenue|training) goes stale\n`))
	g.Expect(out).To(ContainSubstring("Current tier %s (rank 1): all requirements met\n", selectTier))
	g.Expect(out).To(MatchRegexp(`\n  revenue\s+>= 100\s+yes\s+150\s+` + crmUser + `\s+\d+s\s+fresh until \S+Z \(in 89d\), trusted via serviceaccount:integrations/crm-sync\n`))
	g.Expect(out).To(MatchRegexp(`\n  training\s+>= 5\s+yes\s+7\s+` + lmsUser + `\s+\d+s\s+fresh until \S+Z \(in 89d\), trusted via serviceaccount:integrations/lms-sync\n`))
	g.Expect(out).To(ContainSubstring("Next tier: none (no tier of program %s ranks higher)\n", program.Name))
	g.Expect(out).To(ContainSubstring("Exceptions in force (status.grants):\n  none\n"))
	g.Expect(out).To(MatchRegexp(`\n  List\s+-\s+Tier %s\s+-\n`, selectTier))
	g.Expect(out).NotTo(ContainSubstring(entry))

	// A partner without evidence holds the entry tier; the next tier shows what is missing.
	other := settledPartner(t, g, ns, program.Name)
	out, err = run("explain", "partner", other.Name, "-n", ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("Current tier %s (rank 0): no requirements", entry))
	g.Expect(out).To(ContainSubstring("Next tier %s (rank 1): 2 of 2 requirements not met\n", selectTier))
	g.Expect(out).To(MatchRegexp(`\n  revenue\s+>= 100\s+no\s+-\s+-\s+-\s+no evidence reported\n`))

	_, err = run("explain", "listing", p.Name, "-n", ns)
	g.Expect(err).To(MatchError(ContainSubstring("usage: explain partner NAME")))
}

func TestThePluginListsOnlyTheRequestsPendingOnTheUserRunningIt(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager"))
	list := readRule([]string{"list"}, "exceptionrequests")

	managerName, financeName := uniqueName("manager")+"@example.com", uniqueName("finance")+"@example.com"
	reviewer(t, managerName, f.path, "manager")
	reviewer(t, financeName, f.path, "finance")
	manager := pluginAs(t, g, managerName, nil, list)
	finance := pluginAs(t, g, financeName, nil, list)

	out, err := manager("pending", "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`^NAMESPACE\s+NAME\s+TYPE\s+PARTNER\s+STAGE\s+DEADLINE\s+AGE\n`))
	g.Expect(out).To(MatchRegexp(`\n%s\s+%s\s+ReadinessClaim\s+%s\s+manager\s+\S+Z \(in \d+m\)\s+\d+s\n`, f.ns, r.Name, f.partner.Name))

	out, err = finance("pending", "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(Equal("No pending exception requests are waiting on you in namespace " + f.ns + ".\n"))

	// Across namespaces, the manager still sees it (and no request of other tests' paths).
	out, err = manager("pending", "-A")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(r.Name))
	g.Expect(strings.Count(out, "\n")).To(Equal(2), out)

	// Once the manager approves, the request waits on finance instead.
	_, err = manager("approve", r.Name, "-n", f.ns, "--reason", "certification report checked")
	g.Expect(err).NotTo(HaveOccurred())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())
	out, err = finance("pending", "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`\n%s\s+%s\s+ReadinessClaim\s+%s\s+finance\s+`, f.ns, r.Name, f.partner.Name))
	out, err = manager("pending", "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(HavePrefix("No pending exception requests"))
}

func TestThePluginListsEscalatedRequestsForTheEscalationOwner(t *testing.T) {
	g := NewWithT(t)
	owners := uniqueName("owners")
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	f.path = &v1alpha1.ReviewPath{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("path")},
		Spec: v1alpha1.ReviewPathSpec{
			AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestReadinessClaim}},
			Stages:          []v1alpha1.ReviewStage{stage("manager", 1, 2*time.Second, v1alpha1.TimeoutEscalate)},
			EscalationOwner: owners, // a group
		},
	}
	create(t, f.path)
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("escalation")) }).Should(Succeed())

	list := readRule([]string{"list"}, "exceptionrequests")
	owner := pluginAs(t, g, uniqueName("vp")+"@example.com", []string{owners}, list)
	out, err := owner("pending", "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`\n%s\s+%s\s+ReadinessClaim\s+%s\s+escalation\s+`, f.ns, r.Name, f.partner.Name))

	stranger := pluginAs(t, g, uniqueName("stranger")+"@example.com", nil, list)
	out, err = stranger("pending", "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(HavePrefix("No pending exception requests"))
}

func TestThePluginPrintsAProgramsScorecard(t *testing.T) {
	g := NewWithT(t)
	program := newProgram(t)
	run := pluginAs(t, g, uniqueName("analyst")+"@example.com", nil, readRule([]string{"get", "list"}, "partnerprograms"))

	out, err := run("scorecard", program.Name)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(Or(
		Equal("PartnerProgram "+program.Name+" has no scorecard yet: the controller has not computed status.scorecard\n"),
		MatchRegexp(`^Program:\s+`+program.Name+`\n`)))

	out, err = run("scorecard", program.Name, "-o", "json")
	g.Expect(err).NotTo(HaveOccurred(), out)
	var sc v1alpha1.Scorecard
	g.Expect(json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &sc)).To(Succeed(), out)

	out, err = run("scorecard", program.Name, "-o", "yaml")
	g.Expect(err).NotTo(HaveOccurred(), out)

	// Without a name, it needs the one program: here there are at least two.
	newProgram(t)
	_, err = run("scorecard")
	g.Expect(err).To(MatchError(ContainSubstring("name one")))
	_, err = run("scorecard", program.Name, "-o", "wide")
	g.Expect(err).To(MatchError(ContainSubstring(`unknown output format "wide"`)))
}

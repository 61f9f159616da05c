package controllers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
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
	return rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group, recordsv1alpha1.GroupVersion.Group}, Resources: resources, Verbs: verbs}
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

// TestThePluginImportsEvidenceAsTheCallerOneApplyPerPartner imports 1,000
// evidence rows over 100 partners as the CRM integration, first as a server
// dry run, then for real. Rows with a wrong cell are refused by row and column,
// a partner the server refuses names every row of it with the server's reason,
// and every other row lands with the caller as its source and the field manager
// as its owner; an entry the field manager reported before and the file lacks
// is kept.
func TestThePluginImportsEvidenceAsTheCallerOneApplyPerPartner(t *testing.T) {
	g := NewWithT(t)
	const partners, metrics, fieldManager = 100, 10, "crm-export"
	var catalog []v1alpha1.MetricDefinition
	for j := range metrics {
		catalog = append(catalog, metric(fmt.Sprintf("m%d", j), v1alpha1.MetricClassOutcome, "crm-sync"))
	}
	catalog = append(catalog, metric("training", v1alpha1.MetricClassEnablement, "lms-sync"))
	program := &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("program")},
		Spec:       v1alpha1.PartnerProgramSpec{Owner: "owner@example.com", Metrics: catalog},
	}
	create(t, program)
	ns := newNamespace(t)
	name := func(i int) string { return fmt.Sprintf("p-%03d", i) }
	for i := range partners {
		p := newPartner(ns, program.Name)
		p.Name = name(i)
		create(t, p)
	}
	// The CRM reported m3 of p-001 before, with the same field manager.
	crm := userClient(t, crmUser, nil, integrationRules...)
	before := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	g.Expect(reportEvidence(crm, fieldManager, &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(1)}}, "m3", "5", before)).To(Succeed())

	// Row r+2 is partner r/10, metric m(r%10), value r, an hour ago; a few rows are wrong.
	observed := time.Now().Add(-time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	older := time.Now().Add(-90 * time.Minute).UTC().Format(time.RFC3339)
	var csv strings.Builder
	csv.WriteString("Partner,Metric,Value,Observed At\n")
	rowOf := func(i, j int) int { return i*metrics + j + 2 }
	for i := range partners {
		for j := range metrics {
			cells := []string{name(i), fmt.Sprintf("m%d", j), fmt.Sprint(i*metrics + j), observed}
			switch [2]int{i, j} {
			case [2]int{1, 3}:
				cells[2] = "12 USD" // refused: not a decimal (the m3 reported before stays)
			case [2]int{2, 4}:
				cells[3] = "yesterday" // refused: not a time
			case [2]int{3, 0}:
				cells[0] = "no-such-partner" // refused by the server: not found
			case [2]int{4, 5}:
				cells[1] = "training" // the server refuses p-004: the CRM is not trusted for training
			case [2]int{5, 6}:
				cells[1] = "no-such-metric" // the server refuses p-005: not in the catalog
			case [2]int{6, 7}:
				cells = append(cells, "surplus") // refused: a cell beyond the header
			case [2]int{7, 8}:
				cells[1], cells[3] = "m0", older // superseded by p-007's m0 observed later
			}
			csv.WriteString(strings.Join(cells, ",") + "\n")
		}
	}
	file := filepath.Join(t.TempDir(), "export.csv")
	g.Expect(os.WriteFile(file, []byte(csv.String()), 0o600)).To(Succeed())
	run := pluginAs(t, g, crmUser, nil)
	rowsOf := func(i int, skip int) string {
		var rows []string
		for j := range metrics {
			if j != skip {
				rows = append(rows, fmt.Sprint(rowOf(i, j)))
			}
		}
		return "rows " + strings.Join(rows, ", ")
	}
	refusals := func(g Gomega, err error) {
		g.Expect(err).To(HaveOccurred())
		lines := strings.Split(err.Error(), "\n")
		g.Expect(lines).To(HaveLen(7), err.Error())
		g.Expect(lines[0]).To(Equal("24 of 1000 rows refused:"))
		g.Expect(lines[1]).To(Equal(fmt.Sprintf(`row %d, column value: "12 USD" is not a decimal number such as 45, -2 or 1250000.50 (at most 18 digits before the point and 9 after, without unit)`, rowOf(1, 3))))
		g.Expect(lines[2]).To(HavePrefix(`row %d, column observedAt: "yesterday" is not a date`, rowOf(2, 4)))
		g.Expect(lines[3]).To(Equal(fmt.Sprintf(`row %d (Partner %s/no-such-partner): partners.governance.partnergov.io "no-such-partner" not found`, rowOf(3, 0), ns)))
		g.Expect(lines[4]).To(And(HavePrefix("%s (Partner %s/%s): admission webhook", rowsOf(4, -1), ns, name(4)),
			ContainSubstring(`%s is not trusted to report metric "training"`, crmUser)))
		g.Expect(lines[5]).To(And(HavePrefix("%s (Partner %s/%s): admission webhook", rowsOf(5, -1), ns, name(5)),
			ContainSubstring(`metric "no-such-metric" is not in the catalog of PartnerProgram %q`, program.Name)))
		g.Expect(lines[6]).To(Equal(fmt.Sprintf("row %d: cell 5 is beyond the header's 4 columns", rowOf(6, 7))))
	}
	evidence := func(g Gomega, i int) map[string]v1alpha1.EvidenceEntry {
		var p v1alpha1.Partner
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name(i)}, &p)).To(Succeed())
		out := map[string]v1alpha1.EvidenceEntry{}
		for _, e := range p.Status.Evidence {
			out[e.Metric] = e
		}
		return out
	}

	// A server dry run goes through admission, refuses the same rows and writes nothing.
	out, err := run("evidence", "import", "-f", file, "-n", ns, "--field-manager", fieldManager, "--dry-run")
	g.Expect(out).To(Equal("Summary (server dry run, nothing written): 975 rows would be applied, 98 partners would be updated, 24 rows refused, " +
		"1 row superseded by a later observation (1000 rows read, field manager crm-export)\n"))
	refusals(g, err)
	for i := range partners {
		got := evidence(g, i)
		if i == 1 {
			g.Expect(got).To(HaveLen(1), "p-001 keeps only the m3 reported before")
			continue
		}
		g.Expect(got).To(BeEmpty(), "the dry run wrote evidence to %s", name(i))
	}

	out, err = run("evidence", "import", "-f", file, "-n", ns, "--field-manager", fieldManager)
	g.Expect(out).To(Equal("Summary: 975 rows applied, 98 partners updated, 24 rows refused, " +
		"1 row superseded by a later observation (1000 rows read, field manager crm-export)\n"))
	refusals(g, err)

	eventually(g, func(g Gomega) {
		for i := range partners {
			got := evidence(g, i)
			want := map[string]string{}
			for j := range metrics {
				want[fmt.Sprintf("m%d", j)] = fmt.Sprint(i*metrics + j)
			}
			switch i {
			case 1:
				want["m3"] = "5" // its row refused, the entry reported before kept
			case 2:
				delete(want, "m4")
			case 3:
				delete(want, "m0")
			case 4, 5:
				want = map[string]string{} // the server refused the partner: nothing of it applied
			case 6:
				delete(want, "m7")
			case 7:
				delete(want, "m8")
			}
			values := map[string]string{}
			for m, e := range got {
				values[m] = string(e.Value)
				g.Expect(e.Source).To(Equal(crmUser), "%s %s: reported as the user running the plugin", name(i), m)
				g.Expect(e.TrustedVia).To(Equal("serviceaccount:integrations/crm-sync"))
			}
			g.Expect(values).To(Equal(want), name(i))
			if i == 7 {
				g.Expect(got["m0"].ObservedAt.UTC().Format(time.RFC3339)).To(Equal(observed), "p-007's m0 observed last is applied")
			}
		}
	}).Should(Succeed())

	// Each partner's entries are owned by the field manager, by one apply to the status.
	var p0 v1alpha1.Partner
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name(0)}, &p0)).To(Succeed())
	var owner *metav1.ManagedFieldsEntry
	for i, m := range p0.ManagedFields {
		if m.Manager == fieldManager {
			g.Expect(owner).To(BeNil(), "one managedFields entry of %s", fieldManager)
			owner = &p0.ManagedFields[i]
		}
	}
	g.Expect(owner).NotTo(BeNil())
	g.Expect(owner.Operation).To(Equal(metav1.ManagedFieldsOperationApply))
	g.Expect(owner.Subresource).To(Equal("status"))
	for j := range metrics {
		g.Expect(string(owner.FieldsV1.Raw)).To(ContainSubstring(`k:{\"metric\":\"m%d\"}`, j))
	}
}

package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/test/testenv"
)

// The permissions matrix: every persona tries every verb on every kind and the
// meaningful write of every status subresource, as a real authenticated identity
// holding the RBAC a real install gives it. Each cell is Allowed or Denied (an
// RBAC 403 or an admission 403; the table says which), and the test fails on
// every cell that differs from permissionsExpected. docs/permissions.md
// documents the same matrix.
//
// Deal registration: the fixture program has rules of engagement whose
// spec.dealRegistration.crmReporters name the "crm integration" persona. Before
// the matrix runs, that persona writes the direct team's claim on one customer
// (a DealLock with a Direct holder), and a seller of partner A (an identity that
// is none of the personas) registers two deals: one approved at submission,
// which the outcome cell reports Won, and one for the direct team's customer,
// Rejected DirectEngaged, whose standing the phase cell forges to Approved.
//
// Every write in the matrix is a dry run (client.DryRunAll): the API server still
// authorizes it and still sends it to the admission webhooks (they declare
// sideEffects=None), but stores nothing, so one cell never disturbs the next.
// No cell needs a real write; the only real writes are the fixtures, made by the
// suite's admin before the matrix runs (and the controller's own reconciles:
// the integration ServiceAccounts and Roles, the request's current stage).

// permissionsPersonas are the matrix's columns, in order.
var permissionsPersonas = []string{
	"platform admin",    // cluster-admin, through group system:masters
	"program owner",     // edits program configuration, partners and listings; reads everything; no status writes
	"reviewer",          // the sample partnergov-reviewer role plus approve on <path>.<stage>
	"integration",       // partner A's <partner>-integration ServiceAccount, on partner A's objects
	"other integration", // partner B's integration ServiceAccount, on partner A's objects
	"outsider",          // authenticated, no bindings
	"crm integration",   // named in the program's spec.dealRegistration.crmReporters, holding crmIntegrationRules
}

// permissionsExpected is what SHOULD happen, one letter per persona in the order
// of permissionsPersonas: A for Allowed, D for Denied.
var permissionsExpected = map[string]string{
	//                                         admin owner reviewer integration other outsider crm
	"partnerprograms get":                    "AAADDDD",
	"partnerprograms list":                   "AAADDDD",
	"partnerprograms create":                 "AADDDDD",
	"partnerprograms update":                 "AADDDDD",
	"partnerprograms delete":                 "AADDDDD",
	"partnertiers get":                       "AAADDDD",
	"partnertiers list":                      "AAADDDD",
	"partnertiers create":                    "AADDDDD",
	"partnertiers update":                    "AADDDDD",
	"partnertiers delete":                    "AADDDDD",
	"reviewpaths get":                        "AAADDDD",
	"reviewpaths list":                       "AAADDDD",
	"reviewpaths create":                     "AADDDDD",
	"reviewpaths update":                     "AADDDDD",
	"reviewpaths delete":                     "AADDDDD",
	"partners get":                           "AAADDDD",
	"partners list":                          "AAADDDD",
	"partners create":                        "AADDDDD",
	"partners update":                        "AADDDDD",
	"partners delete":                        "AADDDDD",
	"listings get":                           "AADDDDD", // the sample reviewer role does not read listings
	"listings list":                          "AADDDDD",
	"listings create":                        "AADDDDD",
	"listings update":                        "AADDDDD",
	"listings delete":                        "AADDDDD",
	"exceptionrequests get":                  "AAADDDD",
	"exceptionrequests list":                 "AAADDDD",
	"exceptionrequests create":               "ADDDDDD",
	"exceptionrequests update":               "ADDDDDD",
	"exceptionrequests delete":               "ADDDDDD",
	"partners/status patch evidence":         "DDDADDD", // only reporters the catalog trusts, cluster admins included
	"partners/status patch tier":             "DDDDDDD", // computed field: only the controller
	"listings/status patch usage":            "DDDADDD", // only the partner's own integration (or marketplaceReporters)
	"exceptionrequests/status decision":      "ADADDDD", // RBAC approve on <path>.<stage>; cluster-admin holds every verb
	"dealregistrations get":                  "AAADDDA",
	"dealregistrations list":                 "AAADDDA",
	"dealregistrations create":               "ADDDDDD", // a partner's seller registers; no persona but the admin holds create
	"dealregistrations update":               "ADDDDDD",
	"dealregistrations delete":               "ADDDDDD", // once every transition is recorded
	"deallocks get":                          "AAADDDA",
	"deallocks list":                         "AAADDDA",
	"deallocks create":                       "DDDDDDA", // the controller takes keys; only crmReporters write Direct claims, cluster admins included
	"deallocks update":                       "DDDDDDA",
	"deallocks delete":                       "DDDDDDA",
	"dealregistrations/status patch outcome": "DDDDDDA", // only crmReporters report outcomes, cluster admins included
	"dealregistrations/status patch phase":   "DDDDDDD", // the registration's standing: only the controller
	"jointbusinessplans get":                 "AAADDDD",
	"jointbusinessplans list":                "AAADDDD",
	"jointbusinessplans create":              "ADDDDDD", // the company's plan owners write plans; no persona but the admin is one
	"jointbusinessplans update":              "ADDDDDD",
	"jointbusinessplans delete":              "ADDDDDD",
	"exceptionrequests/status decision plan": "ADADDDD", // a BusinessPlan request, as any request
	// Nobody approves their own plan: the platform admin wrote it (spec.author)
	// and the reviewer is its company owner, so admission refuses both.
	"exceptionrequests/status decision own plan": "DDDDDDD",
}

// permissionsRows fixes the table's row order.
var permissionsRows = func() []string {
	var rows []string
	kinds := func(kinds ...string) {
		for _, kind := range kinds {
			for _, verb := range []string{"get", "list", "create", "update", "delete"} {
				rows = append(rows, kind+" "+verb)
			}
		}
	}
	kinds("partnerprograms", "partnertiers", "reviewpaths", "partners", "listings", "exceptionrequests")
	rows = append(rows, "partners/status patch evidence", "partners/status patch tier",
		"listings/status patch usage", "exceptionrequests/status decision")
	kinds("dealregistrations", "deallocks")
	rows = append(rows, "dealregistrations/status patch outcome", "dealregistrations/status patch phase")
	kinds("jointbusinessplans")
	return append(rows, "exceptionrequests/status decision plan", "exceptionrequests/status decision own plan")
}()

// outcome is one cell's result.
type outcome string

const (
	allowed         outcome = "Allowed"
	deniedRBAC      outcome = "Denied (RBAC)"
	deniedAdmission outcome = "Denied (admission)"
)

func (o outcome) letter() string {
	switch o {
	case allowed:
		return "A"
	case deniedRBAC, deniedAdmission:
		return "D"
	}
	return "?" // an error that is neither: always a mismatch
}

// classify turns an API call's error into a cell: a 403 from an admission webhook
// names the webhook ("admission webhook ... denied the request"); any other 403
// is the authorizer's (RBAC).
func classify(err error) outcome {
	if err == nil {
		return allowed
	}
	if apierrors.IsForbidden(err) {
		if strings.Contains(err.Error(), "admission webhook") {
			return deniedAdmission
		}
		return deniedRBAC
	}
	return outcome("Error: " + err.Error())
}

// permissionsFixture holds the objects every cell acts on, all created for real
// by the suite's admin (or by the controller) before the matrix runs.
type permissionsFixture struct {
	ns      string
	program *v1alpha1.PartnerProgram
	tier    *v1alpha1.PartnerTier
	path    *v1alpha1.ReviewPath
	// unused is a program and a tier nothing references or holds: admission
	// refuses deleting those in use, and the delete cells ask about RBAC.
	unusedProgram *v1alpha1.PartnerProgram
	unusedTier    *v1alpha1.PartnerTier
	// offboarded is a partner whose offboarding took effect: admission refuses
	// deleting any other, and the delete cells ask about RBAC.
	offboarded *v1alpha1.Partner
	partner    *v1alpha1.Partner // partner A
	other      *v1alpha1.Partner // partner B
	listing    *v1alpha1.Listing // partner A's
	request    *v1alpha1.ExceptionRequest
	// deal is partner A's registration, Approved at submission; rejected is
	// partner A's registration of the customer the direct team holds (lock),
	// Rejected DirectEngaged. lock is the direct team's claim, written by the
	// crm integration persona.
	deal, rejected *v1alpha1.DealRegistration
	lock           *v1alpha1.DealLock
	// plan is partner A's JointBusinessPlan, written by the suite's admin and
	// owned by people who are none of the personas; ownPlan's author is the
	// platform admin persona and its company owner the reviewer persona. Both
	// BusinessPlan requests wait on stage "plans" of planPath.
	plan, ownPlan               *v1alpha1.JointBusinessPlan
	planRequest, ownPlanRequest *v1alpha1.ExceptionRequest
	planPath                    *v1alpha1.ReviewPath
	personas                    map[string]client.Client
}

func TestPermissionsMatrix(t *testing.T) {
	g := NewWithT(t)
	f := newPermissionsFixture(t, g)

	results := map[string]map[string]outcome{}
	var refusals []string // the admission webhooks' reasons, for the log
	for _, row := range permissionsRows {
		results[row] = map[string]outcome{}
		for _, persona := range permissionsPersonas {
			err := f.try(g, row, f.personas[persona])
			results[row][persona] = classify(err)
			if classify(err) == deniedAdmission {
				refusals = append(refusals, fmt.Sprintf("%s / %s: %v", row, persona, err))
			}
		}
	}

	var table strings.Builder
	w := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\t%s\n", strings.Join(permissionsPersonas, "\t"))
	var mismatches []string
	for _, row := range permissionsRows {
		want := permissionsExpected[row]
		if len(want) != len(permissionsPersonas) {
			t.Fatalf("permissionsExpected[%q] = %q: want one letter per persona", row, want)
		}
		cells := []string{row}
		for i, persona := range permissionsPersonas {
			got := results[row][persona]
			cell := string(got)
			if got.letter() != want[i:i+1] {
				cell += " (want " + map[string]string{"A": "Allowed", "D": "Denied"}[want[i:i+1]] + ")"
				mismatches = append(mismatches, fmt.Sprintf("%s / %s: got %s, want %s", row, persona, got, want[i:i+1]))
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	_ = w.Flush()
	t.Logf("permissions matrix (namespace %s):\n%s\nadmission refusals:\n  %s", f.ns, table.String(), strings.Join(refusals, "\n  "))
	if len(mismatches) > 0 {
		t.Errorf("%d cells differ from the expected matrix:\n  %s", len(mismatches), strings.Join(mismatches, "\n  "))
	}
}

func newPermissionsFixture(t *testing.T, g *WithT) *permissionsFixture {
	f := &permissionsFixture{ns: newNamespace(t)}

	// Partners' own integrations (every ServiceAccount of the namespace) may
	// report "training": the evidence cell writes a metric the catalog trusts
	// for the integration.
	f.program = &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("program")},
		Spec: v1alpha1.PartnerProgramSpec{Owner: "owner@example.com", Metrics: []v1alpha1.MetricDefinition{
			metric("revenue", v1alpha1.MetricClassOutcome, "crm-sync"),
			metric("training", v1alpha1.MetricClassEnablement, "lms-sync"),
		}},
	}
	f.program.Spec.Metrics[1].TrustedReporters.Groups = []string{"system:serviceaccounts:" + f.ns}
	// Rules of engagement: registrations are approved at submission, and the
	// crm integration persona writes the direct team's claims and reports outcomes.
	crmUser := uniqueName("crm") + "@example.com"
	f.program.Spec.DealRegistration = &v1alpha1.DealRegistrationRules{
		AutoApprove: &v1alpha1.DealAutoApproval{}, CRMReporters: v1alpha1.Identities{Users: []string{crmUser}},
	}
	// Business plans are reviewed on a path of their own, stage "plans".
	f.planPath = planPath(t)
	f.program.Spec.BusinessPlans = &v1alpha1.BusinessPlanRules{ReviewPath: f.planPath.Name}
	create(t, f.program)
	f.tier = newTier(f.program.Name, uniqueName("registered"), 0)
	create(t, f.tier)
	f.unusedTier = newTier(f.program.Name, uniqueName("premier"), 9, atLeast("revenue", "1000000000"))
	create(t, f.unusedTier)
	f.unusedProgram = f.program.DeepCopy()
	f.unusedProgram.ObjectMeta = metav1.ObjectMeta{Name: uniqueName("program")}
	create(t, f.unusedProgram)
	f.path = newPath(t, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	f.partner = settledPartner(t, g, f.ns, f.program.Name, withIntegration)
	f.offboarded = settledPartner(t, g, f.ns, f.program.Name, offboardedAt(time.Now().Add(-time.Minute)))
	f.other = settledPartner(t, g, f.ns, f.program.Name, withIntegration)
	f.listing = newListing(f.ns, f.partner.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, f.listing)).To(Succeed())

	// The request is filed by a requester who is none of the personas (a
	// requester may not decide their own request), and waits on stage "manager".
	asker := userClient(t, uniqueName("requester")+"@example.com", nil, rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"exceptionrequests"}, Verbs: []string{"create", "get"},
	})
	spec := claimSpec()
	spec.Partner, spec.ReviewPath, spec.Justification = f.partner.Name, f.path.Name, "a justification long enough for the record"
	f.request = &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")}, Spec: spec}
	eventually(g, func() error { return asker.Create(ctx, f.request) }).Should(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(f.request), f.request)).To(Succeed())
		g.Expect(f.request.Status.CurrentStage).To(Equal("manager"))
	}).Should(Succeed())

	// The integrations' Roles are the controller's: wait until partner A's covers its listing.
	eventually(g, func(g Gomega) {
		var role rbacv1.Role
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: v1alpha1.IntegrationName(f.partner.Name)}, &role)).To(Succeed())
		g.Expect(role.Rules).To(ContainElement(HaveField("ResourceNames", ContainElement(f.listing.Name))))
		var binding rbacv1.RoleBinding
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: v1alpha1.IntegrationName(f.other.Name)}, &binding)).To(Succeed())
	}).Should(Succeed())

	// Deal registration. The CRM claims a customer for the direct team (a real
	// write, allowed once the API server and the webhook's cache know the persona
	// and the program); then a seller of partner A registers two customers: one
	// free, approved at submission and holding its key, and the direct team's,
	// rejected. Both wait until every transition is recorded, or deleting the
	// registration would be refused for that alone.
	crm := userClient(t, crmUser, nil, crmIntegrationRules()...)
	direct := "direct-" + rand.String(6) + ".com"
	f.lock = f.directLock(direct, "006-fixture")
	eventually(g, func() error { return crm.Create(ctx, f.lock) }).Should(Succeed())
	t.Cleanup(func() { _ = crm.Delete(context.Background(), f.lock) }) // the admin may not: cluster-scoped, it outlives the namespace
	seller := userClient(t, uniqueName("seller")+"@example.com", nil, registrarRules...)
	f.deal = f.newDeal("free-" + rand.String(6) + ".com")
	f.rejected = f.newDeal("www." + direct)
	for _, d := range []*v1alpha1.DealRegistration{f.deal, f.rejected} {
		eventually(g, func() error { return seller.Create(ctx, d) }).Should(Succeed())
	}
	for d, phase := range map[*v1alpha1.DealRegistration]v1alpha1.DealPhase{f.deal: v1alpha1.DealApproved, f.rejected: v1alpha1.DealRejected} {
		eventually(g, func(g Gomega) {
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Status.Phase).To(Equal(phase), "%s: %s", d.Status.Reason, d.Status.Message)
			g.Expect(d.Status.History).NotTo(BeEmpty())
			g.Expect(dealRecords(g, d)).To(HaveLen(int(d.Status.History[len(d.Status.History)-1].Sequence)))
			// ... and the webhook's cache has seen the records: deleting is up to RBAC alone.
			g.Expect(admin.Delete(ctx, d.DeepCopy(), client.DryRunAll)).To(Succeed())
		}).Should(Succeed())
	}
	g.Expect(f.rejected.Status.Reason).To(Equal(v1alpha1.ReasonDealDirectEngaged))

	// Business plans: one written by the suite's admin for owners who are none
	// of the personas, one written by the platform admin persona with the
	// reviewer persona as its company owner.
	platformAdmin := userClient(t, uniqueName("admin")+"@example.com", []string{"system:masters"})
	reviewerName := uniqueName("reviewer") + "@example.com"
	f.plan = newPlan(f.ns, f.partner.Name, v1alpha1.PlanGoal{Metric: "revenue", Target: "1000"})
	g.Expect(admin.Create(ctx, f.plan)).To(Succeed())
	f.ownPlan = newPlan(f.ns, f.partner.Name, v1alpha1.PlanGoal{Metric: "training", Target: "5"})
	f.ownPlan.Spec.Owners.Company = []string{reviewerName}
	eventually(g, func() error { return platformAdmin.Create(ctx, f.ownPlan) }).Should(Succeed())
	g.Expect(f.ownPlan.Spec.Author).NotTo(BeNil())
	f.planRequest, f.ownPlanRequest = planRequest(g, f.plan), planRequest(g, f.ownPlan)
	g.Expect(f.ownPlanRequest.Spec.Parties).To(ContainElements(f.ownPlan.Spec.Author.Username, reviewerName))

	f.personas = map[string]client.Client{
		"platform admin":    platformAdmin,
		"program owner":     userClient(t, uniqueName("owner")+"@example.com", nil, programOwnerRules()...),
		"reviewer":          userClient(t, reviewerName, nil, reviewerRules(t, g, f.path.Name+".manager", f.planPath.Name+".plans")...),
		"integration":       newClient(t, tokenConfig(t, g, f.ns, v1alpha1.IntegrationName(f.partner.Name))),
		"other integration": newClient(t, tokenConfig(t, g, f.ns, v1alpha1.IntegrationName(f.other.Name))),
		"outsider":          userClient(t, uniqueName("outsider")+"@example.com", nil),
		"crm integration":   crm,
	}

	// The API server's RBAC cache follows new roles and bindings after a moment.
	// Wait (without failing: the matrix reports what it sees) until each persona
	// holds a permission it is granted, so no cell is Denied for lag alone.
	settle(t, "program owner", func() error {
		return f.personas["program owner"].Get(ctx, client.ObjectKeyFromObject(f.program), &v1alpha1.PartnerProgram{})
	})
	settle(t, "reviewer", func() error {
		return f.personas["reviewer"].Get(ctx, client.ObjectKeyFromObject(f.request), &v1alpha1.ExceptionRequest{})
	})
	settle(t, "integration", func() error {
		return errors.Join(f.patchUsage(f.personas["integration"]), f.patchEvidence(f.personas["integration"], f.partner))
	})
	settle(t, "other integration", func() error { // on its own partner, which it may report for
		return f.patchEvidence(f.personas["other integration"], f.other)
	})
	settle(t, "crm integration", func() error {
		return f.personas["crm integration"].Get(ctx, client.ObjectKeyFromObject(f.deal), &v1alpha1.DealRegistration{})
	})
	return f
}

// settle polls ready until it succeeds, for at most 20 seconds.
func settle(t *testing.T, persona string, ready func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = ready(); err == nil {
			return
		}
	}
	t.Logf("%s still lacks a permission it is granted after 20s: %v", persona, err)
}

// programOwnerRules: edit PartnerPrograms, PartnerTiers, ReviewPaths, Partners and
// Listings (their specs); read everything; write no status. The owner sets the
// rules of engagement in the program and reads DealRegistrations and DealLocks,
// but writes neither: registrations are the partners' sellers' claims, locks are
// the controller's and the CRM integration's.
func programOwnerRules() []rbacv1.PolicyRule {
	group := []string{v1alpha1.GroupVersion.Group}
	return []rbacv1.PolicyRule{{
		APIGroups: group,
		Resources: []string{"partnerprograms", "partnertiers", "reviewpaths", "partners", "listings"},
		Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
	}, {
		APIGroups: group,
		Resources: []string{"exceptionrequests", "dealregistrations", "deallocks", "jointbusinessplans", "partnerprograms/status", "partnertiers/status",
			"reviewpaths/status", "partners/status", "listings/status", "exceptionrequests/status", "dealregistrations/status"},
		Verbs: []string{"get", "list", "watch"},
	}}
}

// crmIntegrationRules are the RBAC a program's CRM integration needs, and no
// more. It follows registrations (get, list, watch) and reports their outcomes
// through the status subresource (patch dealregistrations/status: DealStatusGuard
// lets it write status.outcome only, once, stamped with its identity); it never
// writes a registration's spec, which would let it withdraw a partner's
// registration and so release its key. It writes the direct team's claims:
// DealLocks with a Direct holder (create, update to move spec.until, delete to
// release; DealLockValidator refuses it any other lock). It reads nothing else.
// RBAC is half of it: the webhooks also require the identity to be named in the
// program's spec.dealRegistration.crmReporters.
func crmIntegrationRules() []rbacv1.PolicyRule {
	group := []string{v1alpha1.GroupVersion.Group}
	return []rbacv1.PolicyRule{{
		APIGroups: group, Resources: []string{"dealregistrations"}, Verbs: []string{"get", "list", "watch"},
	}, {
		APIGroups: group, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"},
	}, {
		APIGroups: group, Resources: []string{"deallocks"}, Verbs: []string{"get", "list", "create", "update", "delete"},
	}}
}

// reviewerRules are the rules of config/samples/reviewers_rbac.yaml's
// partnergov-reviewer ClusterRole, read from the file, plus RBAC verb approve on
// reviewpaths with the given <path>.<stage> resourceNames, as the sample's
// partnergov-approve-* roles grant.
func reviewerRules(t *testing.T, g *WithT, stages ...string) []rbacv1.PolicyRule {
	t.Helper()
	objs, err := testenv.Objects(filepath.Join(env.Root, "config", "samples", "reviewers_rbac.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, u := range objs {
		if u.GetKind() != "ClusterRole" || u.GetName() != "partnergov-reviewer" {
			continue
		}
		var role rbacv1.ClusterRole
		g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &role)).To(Succeed())
		return append(role.Rules, rbacv1.PolicyRule{
			APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"reviewpaths"},
			ResourceNames: stages, Verbs: []string{"approve"},
		})
	}
	t.Fatal("config/samples/reviewers_rbac.yaml has no ClusterRole partnergov-reviewer")
	return nil
}

// try performs one row's action as c.
func (f *permissionsFixture) try(g *WithT, row string, c client.Client) error {
	switch row {
	case "partners/status patch evidence":
		return f.patchEvidence(c, f.partner)
	case "partners/status patch tier":
		return c.Status().Patch(ctx, f.partner.DeepCopy(),
			client.RawPatch(types.MergePatchType, []byte(`{"status":{"tier":"premier"}}`)), client.DryRunAll)
	case "listings/status patch usage":
		return f.patchUsage(c)
	case "dealregistrations/status patch outcome":
		// A win, as the CRM integration reports it (the server stamps reportedBy).
		patch, err := json.Marshal(map[string]any{"status": map[string]any{"outcome": map[string]any{
			"result": v1alpha1.DealResultWon, "closedAt": time.Now().UTC().Format(time.RFC3339),
			"amount": map[string]any{"amount": "42000", "currency": "USD"},
		}}})
		g.Expect(err).NotTo(HaveOccurred())
		return c.Status().Patch(ctx, f.deal.DeepCopy(), client.RawPatch(types.MergePatchType, patch), client.DryRunAll)
	case "dealregistrations/status patch phase":
		// The rejected registration forged to hold the direct team's customer.
		return c.Status().Patch(ctx, f.rejected.DeepCopy(),
			client.RawPatch(types.MergePatchType, []byte(`{"status":{"phase":"Approved"}}`)), client.DryRunAll)
	case "exceptionrequests/status decision":
		return f.approve(g, c, f.request)
	case "exceptionrequests/status decision plan":
		return f.approve(g, c, f.planRequest)
	case "exceptionrequests/status decision own plan":
		return f.approve(g, c, f.ownPlanRequest)
	}
	kind, verb, _ := strings.Cut(row, " ")
	var existing client.Object
	var list client.ObjectList
	var fresh func() client.Object
	switch kind {
	case "partnerprograms":
		existing, list = f.program, &v1alpha1.PartnerProgramList{}
		fresh = func() client.Object {
			p := f.program.DeepCopy()
			p.ObjectMeta = metav1.ObjectMeta{Name: uniqueName("program")}
			return p
		}
	case "partnertiers":
		existing, list = f.tier, &v1alpha1.PartnerTierList{}
		fresh = func() client.Object { // the entry rank is taken: the next rank requires an Outcome metric
			return newTier(f.program.Name, uniqueName("select"), 1, atLeast("revenue", "100"))
		}
	case "reviewpaths":
		existing, list = f.path, &v1alpha1.ReviewPathList{}
		fresh = func() client.Object {
			p := f.path.DeepCopy()
			p.ObjectMeta = metav1.ObjectMeta{Name: uniqueName("path")}
			return p
		}
	case "partners":
		existing, list = f.partner, &v1alpha1.PartnerList{}
		fresh = func() client.Object { return newPartner(f.ns, f.program.Name) }
	case "listings":
		existing, list = f.listing, &v1alpha1.ListingList{}
		fresh = func() client.Object {
			return newListing(f.ns, f.partner.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
		}
	case "exceptionrequests":
		existing, list = f.request, &v1alpha1.ExceptionRequestList{}
		fresh = func() client.Object {
			return &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")}, Spec: f.request.Spec}
		}
	case "jointbusinessplans":
		existing, list = f.plan, &v1alpha1.JointBusinessPlanList{}
		fresh = func() client.Object {
			return newPlan(f.ns, f.partner.Name, v1alpha1.PlanGoal{Metric: "revenue", Target: "500"})
		}
	case "dealregistrations":
		existing, list = f.deal, &v1alpha1.DealRegistrationList{}
		fresh = func() client.Object { return f.newDeal("fresh-" + rand.String(6) + ".com") }
	case "deallocks":
		// The direct team's claim: the only locks anyone but the controller may
		// write (the CRM's refusal on a partner's key is in deal_test.go).
		existing, list = f.lock, &v1alpha1.DealLockList{}
		fresh = func() client.Object { return f.directLock("fresh-"+rand.String(6)+".com", "006-fresh") }
	default:
		g.Expect(row).To(BeEmpty(), "unknown row")
	}
	if verb == "delete" && kind == "partnerprograms" {
		existing = f.unusedProgram
	} else if verb == "delete" && kind == "partnertiers" {
		existing = f.unusedTier
	} else if verb == "delete" && kind == "partners" {
		existing = f.offboarded
	}
	obj := existing.DeepCopyObject().(client.Object)
	switch verb {
	case "get":
		return c.Get(ctx, client.ObjectKeyFromObject(existing), obj)
	case "list":
		var opts []client.ListOption
		if existing.GetNamespace() != "" {
			opts = append(opts, client.InNamespace(f.ns))
		}
		return c.List(ctx, list, opts...)
	case "create":
		return c.Create(ctx, fresh(), client.DryRunAll)
	case "update":
		// A metadata-only change: the request's spec is immutable for everyone,
		// and the matrix asks who may update, not what may change.
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(existing), obj)).To(Succeed())
		obj.SetLabels(map[string]string{"example.com/touched": "yes"})
		return c.Update(ctx, obj, client.DryRunAll)
	case "delete":
		return c.Delete(ctx, obj, client.DryRunAll)
	}
	g.Expect(row).To(BeEmpty(), "unknown verb")
	return nil
}

// approve appends, as c, the approval kubectl partnergov approve sends on r's
// current stage.
func (f *permissionsFixture) approve(g *WithT, c client.Client, r *v1alpha1.ExceptionRequest) error {
	patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/status/decisions", "value": []v1alpha1.ReviewDecision{{
		Stage: r.Status.CurrentStage, Decision: v1alpha1.DecisionApprove, Rationale: "reviewed the evidence",
	}}}})
	g.Expect(err).NotTo(HaveOccurred())
	return c.Status().Patch(ctx, r.DeepCopy(), client.RawPatch(types.JSONPatchType, patch), client.DryRunAll)
}

// newDeal is a Resale registration of partner A for domain, product line "sync".
func (f *permissionsFixture) newDeal(domain string) *v1alpha1.DealRegistration {
	return &v1alpha1.DealRegistration{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("deal")},
		Spec: v1alpha1.DealRegistrationSpec{Partner: f.partner.Name, Type: v1alpha1.DealResale, ProductLine: "sync",
			Customer: v1alpha1.Customer{Name: "Customer of " + domain, Domain: domain},
			Amount:   v1alpha1.Money{Amount: "40000", Currency: "USD"}},
	}
}

// directLock is the direct team's claim on domain's customer for product line
// "sync" in the fixture program, named as its conflict key requires.
func (f *permissionsFixture) directLock(domain, opportunity string) *v1alpha1.DealLock {
	key := f.program.Name + "/domain:" + domain + "/sync"
	return &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: deal.LockName(key)}, Spec: v1alpha1.DealLockSpec{
		Program: f.program.Name, ConflictKey: key, Since: metav1.NowMicro(),
		Holder: v1alpha1.DealHolder{Kind: deal.HolderDirect, Opportunity: opportunity},
	}}
}

// patchEvidence reports, as c, evidence the catalog trusts every ServiceAccount of
// the namespace for ("training") on p's status.
func (f *permissionsFixture) patchEvidence(c client.Client, p *v1alpha1.Partner) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"evidence": []any{map[string]any{
		"metric": "training", "value": "9", "observedAt": time.Now().UTC().Format(time.RFC3339),
	}}}})
	if err != nil {
		return err
	}
	return c.Status().Patch(ctx, p.DeepCopy(), client.RawPatch(types.MergePatchType, patch), client.DryRunAll)
}

// patchUsage reports, as c, adoption figures of partner A's listing.
func (f *permissionsFixture) patchUsage(c client.Client) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"usage": map[string]any{
		"views": 120, "installs": 3, "observedAt": time.Now().UTC().Format(time.RFC3339),
	}}})
	if err != nil {
		return err
	}
	return c.Status().Patch(ctx, f.listing.DeepCopy(), client.RawPatch(types.MergePatchType, patch), client.DryRunAll)
}

package controllers_test

import (
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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/testenv"
)

// The permissions matrix: every persona tries every verb on every kind and the
// meaningful write of every status subresource, as a real authenticated identity
// holding the RBAC a real install gives it. Each cell is Allowed or Denied (an
// RBAC 403 or an admission 403; the table says which), and the test fails on
// every cell that differs from permissionsExpected. README.md's "Permissions"
// section documents the same matrix.
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
}

// permissionsExpected is what SHOULD happen, one letter per persona in the order
// of permissionsPersonas: A for Allowed, D for Denied.
var permissionsExpected = map[string]string{
	//                                   admin owner reviewer integration other outsider
	"partnerprograms get":               "AAADDD",
	"partnerprograms list":              "AAADDD",
	"partnerprograms create":            "AADDDD",
	"partnerprograms update":            "AADDDD",
	"partnerprograms delete":            "AADDDD",
	"partnertiers get":                  "AAADDD",
	"partnertiers list":                 "AAADDD",
	"partnertiers create":               "AADDDD",
	"partnertiers update":               "AADDDD",
	"partnertiers delete":               "AADDDD",
	"reviewpaths get":                   "AAADDD",
	"reviewpaths list":                  "AAADDD",
	"reviewpaths create":                "AADDDD",
	"reviewpaths update":                "AADDDD",
	"reviewpaths delete":                "AADDDD",
	"partners get":                      "AAADDD",
	"partners list":                     "AAADDD",
	"partners create":                   "AADDDD",
	"partners update":                   "AADDDD",
	"partners delete":                   "AADDDD",
	"listings get":                      "AADDDD", // the sample reviewer role does not read listings
	"listings list":                     "AADDDD",
	"listings create":                   "AADDDD",
	"listings update":                   "AADDDD",
	"listings delete":                   "AADDDD",
	"exceptionrequests get":             "AAADDD",
	"exceptionrequests list":            "AAADDD",
	"exceptionrequests create":          "ADDDDD",
	"exceptionrequests update":          "ADDDDD",
	"exceptionrequests delete":          "ADDDDD",
	"partners/status patch evidence":    "DDDADD", // only reporters the catalog trusts, cluster admins included
	"partners/status patch tier":        "DDDDDD", // computed field: only the controller
	"listings/status patch usage":       "DDDADD", // only the partner's own integration (or marketplaceReporters)
	"exceptionrequests/status decision": "ADADDD", // RBAC approve on <path>.<stage>; cluster-admin holds every verb
}

// permissionsRows fixes the table's row order.
var permissionsRows = func() []string {
	var rows []string
	for _, kind := range []string{"partnerprograms", "partnertiers", "reviewpaths", "partners", "listings", "exceptionrequests"} {
		for _, verb := range []string{"get", "list", "create", "update", "delete"} {
			rows = append(rows, kind+" "+verb)
		}
	}
	return append(rows, "partners/status patch evidence", "partners/status patch tier",
		"listings/status patch usage", "exceptionrequests/status decision")
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
	partner       *v1alpha1.Partner // partner A
	other         *v1alpha1.Partner // partner B
	listing       *v1alpha1.Listing // partner A's
	request       *v1alpha1.ExceptionRequest
	personas      map[string]client.Client
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
	create(t, f.program)
	f.tier = newTier(f.program.Name, uniqueName("registered"), 0)
	create(t, f.tier)
	f.unusedTier = newTier(f.program.Name, uniqueName("premier"), 9, atLeast("revenue", "1000000000"))
	create(t, f.unusedTier)
	f.unusedProgram = f.program.DeepCopy()
	f.unusedProgram.ObjectMeta = metav1.ObjectMeta{Name: uniqueName("program")}
	create(t, f.unusedProgram)
	f.path = newPath(t, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	f.partner = settledPartner(t, g, f.ns, f.program.Name)
	f.other = settledPartner(t, g, f.ns, f.program.Name)
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

	f.personas = map[string]client.Client{
		"platform admin":    userClient(t, uniqueName("admin")+"@example.com", []string{"system:masters"}),
		"program owner":     userClient(t, uniqueName("owner")+"@example.com", nil, programOwnerRules()...),
		"reviewer":          userClient(t, uniqueName("reviewer")+"@example.com", nil, reviewerRules(t, g, f.path.Name+".manager")...),
		"integration":       newClient(t, tokenConfig(t, g, f.ns, v1alpha1.IntegrationName(f.partner.Name))),
		"other integration": newClient(t, tokenConfig(t, g, f.ns, v1alpha1.IntegrationName(f.other.Name))),
		"outsider":          userClient(t, uniqueName("outsider")+"@example.com", nil),
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
// Listings (their specs); read everything; write no status.
func programOwnerRules() []rbacv1.PolicyRule {
	group := []string{v1alpha1.GroupVersion.Group}
	return []rbacv1.PolicyRule{{
		APIGroups: group,
		Resources: []string{"partnerprograms", "partnertiers", "reviewpaths", "partners", "listings"},
		Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
	}, {
		APIGroups: group,
		Resources: []string{"exceptionrequests", "partnerprograms/status", "partnertiers/status", "reviewpaths/status",
			"partners/status", "listings/status", "exceptionrequests/status"},
		Verbs: []string{"get", "list", "watch"},
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
	case "exceptionrequests/status decision":
		// The append kubectl partnergov approve sends, on the current stage.
		patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/status/decisions", "value": []v1alpha1.ReviewDecision{{
			Stage: f.request.Status.CurrentStage, Decision: v1alpha1.DecisionApprove, Rationale: "reviewed the evidence",
		}}}})
		g.Expect(err).NotTo(HaveOccurred())
		return c.Status().Patch(ctx, f.request.DeepCopy(), client.RawPatch(types.JSONPatchType, patch), client.DryRunAll)
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
	default:
		g.Expect(row).To(BeEmpty(), "unknown row")
	}
	if verb == "delete" && kind == "partnerprograms" {
		existing = f.unusedProgram
	} else if verb == "delete" && kind == "partnertiers" {
		existing = f.unusedTier
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

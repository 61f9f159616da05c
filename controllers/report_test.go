package controllers_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestReportWritesTheProgramsHTMLReport(t *testing.T) {
	g := NewWithT(t)
	day := 24 * time.Hour
	program, entry, selectTier := ladder(t, 90*day, time.Hour)
	// A third tier, the highest rank, that nobody reaches: it sorts first by
	// name, so the report shows it last only when it orders tiers by rank, and
	// only when it shows empty tiers.
	advanced := "advanced-" + selectTier
	create(t, newTier(program.Name, advanced, 2, atLeast("revenue", "1000")))
	ns := newNamespace(t)

	// a holds select on fresh revenue and training (two fresh entries).
	a := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, a)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, a).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())
	// b keeps the entry tier: revenue with 5 of its 90 days left (going stale),
	// training observed 100 days ago (stale).
	b := settledPartner(t, g, ns, program.Name)
	crm := userClient(t, crmUser, nil, integrationRules...)
	lms := userClient(t, lmsUser, nil, integrationRules...)
	g.Expect(reportEvidence(crm, "crm", b, "revenue", "40", time.Now().Add(-85*day))).To(Succeed())
	g.Expect(reportEvidence(lms, "lms", b, "training", "2", time.Now().Add(-100*day))).To(Succeed())

	// One request under review for a, just filed.
	path := newPath(t, stage("office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	spec := claimSpec()
	spec.Partner, spec.ReviewPath, spec.Justification = a.Name, path.Name, "a justification long enough for the record"
	request := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("req")}, Spec: spec}
	g.Expect(requesterClient(t, path).Create(ctx, request)).To(Succeed())

	// The scorecard counts both partners and the request.
	wantTiers := []v1alpha1.Count{{Name: entry, Count: 1}, {Name: selectTier, Count: 1}}
	if entry > selectTier {
		wantTiers[0], wantTiers[1] = wantTiers[1], wantTiers[0]
	}
	eventually(g, func(g Gomega) {
		var got v1alpha1.PartnerProgram
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(program), &got)).To(Succeed())
		g.Expect(got.Status.Scorecard).NotTo(BeNil())
		g.Expect(got.Status.Scorecard.PartnersByTier).To(Equal(wantTiers))
		g.Expect(got.Status.Scorecard.OpenRequestsByType).To(Equal([]v1alpha1.Count{{Name: string(v1alpha1.RequestReadinessClaim), Count: 1}}))
	}).Should(Succeed())

	// Three tier decisions are recorded: none -> entry for both, entry -> select for a.
	eventually(g, func(g Gomega) {
		var records recordsv1alpha1.DecisionRecordList
		g.Expect(admin.List(ctx, &records, client.InNamespace(ns))).To(Succeed())
		n := 0
		for _, r := range records.Items {
			if r.Spec.Type == recordsv1alpha1.DecisionTierChange {
				n++
			}
		}
		g.Expect(n).To(Equal(3))
	}).Should(Succeed())

	run := pluginAs(t, g, uniqueName("analyst")+"@example.com", nil,
		readRule([]string{"get"}, "partnerprograms"),
		readRule([]string{"list"}, "partners", "partnertiers", "exceptionrequests", "dealregistrations", "decisionrecords"))
	file := filepath.Join(t.TempDir(), "report.html")
	out, err := run("report", "--html", file, program.Name)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(Equal("wrote the report of PartnerProgram " + program.Name + " to " + file + "\n"))

	page, err := os.ReadFile(file)
	g.Expect(err).NotTo(HaveOccurred())
	html := string(page)
	g.Expect(html).To(HavePrefix("<!DOCTYPE html>"))
	g.Expect(html).To(ContainSubstring("<title>partnergov report: %s</title>", program.Name))
	g.Expect(html).To(ContainSubstring("<h1>Partner program %s</h1>", program.Name))
	// Tiers by rank, lowest first, the empty one included.
	g.Expect(html).To(ContainSubstring(`<svg id="chart-tiers" role="img" aria-label="Partners by tier, lowest rank first. %s: 1, %s: 1, %s: 0"`,
		entry, selectTier, advanced))
	// Review and tier decisions, each counted.
	g.Expect(html).To(ContainSubstring(`<tr><td>Review decisions</td><td class="num">0</td>`))
	g.Expect(html).To(ContainSubstring(`<tr><td>Tier decisions</td><td class="num">3</td>`))
	g.Expect(html).To(ContainSubstring(`<svg id="chart-freshness" role="img" aria-label="Evidence freshness. fresh: 2, stale within 7d: 1, stale: 1"`))
	g.Expect(html).To(ContainSubstring(`<svg id="chart-exceptions" role="img" aria-label="Pending exception requests by age. &lt;1d: 1, 1-3d: 0, 3-7d: 0, &gt;7d: 0"`))
	g.Expect(html).To(ContainSubstring(`<tr><td>%s</td><td class="num">1</td></tr>`, v1alpha1.RequestReadinessClaim))
	g.Expect(html).To(ContainSubstring(`<svg id="chart-deals" role="img" aria-label="Deal registrations by phase. no deal registrations counted in the scorecard"`))
	g.Expect(html).To(ContainSubstring("No deal figures yet"))
	g.Expect(html).NotTo(ContainSubstring("http://"))
	g.Expect(html).NotTo(ContainSubstring("https://"))
	g.Expect(html).NotTo(ContainSubstring("<script"))

	// Without --html the command says what it needs.
	_, err = run("report", program.Name)
	g.Expect(err).To(MatchError(ContainSubstring("--html FILE is required")))
}

func TestReportWritesAPartnersStandingPage(t *testing.T) {
	g := NewWithT(t)
	program, _, selectTier := ladder(t, 90*24*time.Hour, time.Hour)
	advanced := "advanced-" + selectTier
	create(t, newTier(program.Name, advanced, 2, atLeast("revenue", "1000")))
	ns := newNamespace(t)

	// Two partners of the same program in the same namespace, both on select,
	// each with a published listing and a request under review.
	path := newPath(t, stage("office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	type partner struct {
		p       *v1alpha1.Partner
		listing *v1alpha1.Listing
		request *v1alpha1.ExceptionRequest
	}
	var partners []partner
	for range 2 {
		p := settledPartner(t, g, ns, program.Name)
		qualifyForSelect(t, g, p)
		eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())
		l := newListing(ns, p.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
		g.Expect(admin.Create(ctx, l)).To(Succeed())
		spec := claimSpec()
		spec.Partner, spec.ReviewPath, spec.Justification = p.Name, path.Name, "a justification long enough for the record"
		r := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("req")}, Spec: spec}
		g.Expect(requesterClient(t, path).Create(ctx, r)).To(Succeed())
		partners = append(partners, partner{p, l, r})
	}
	a, b := partners[0], partners[1]
	for _, x := range partners {
		eventually(g, func(g Gomega) {
			g.Expect(published(g, x.listing).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(getRequest(g, x.request).Status.CurrentStage).To(Equal("office"))
		}).Should(Succeed())
	}

	run := pluginAs(t, g, uniqueName("partner-manager")+"@example.com", nil,
		readRule([]string{"get"}, "partners", "partnerprograms"),
		readRule([]string{"list"}, "partnertiers", "exceptionrequests", "listings"))
	file := filepath.Join(t.TempDir(), "partner.html")
	out, err := run("report", "--partner", a.p.Name, "-n", ns, "--html", file)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(Equal("wrote the standing of Partner " + ns + "/" + a.p.Name + " to " + file + "\n"))

	page, err := os.ReadFile(file)
	g.Expect(err).NotTo(HaveOccurred())
	html := string(page)
	g.Expect(html).To(HavePrefix("<!DOCTYPE html>"))
	g.Expect(html).To(ContainSubstring("<h1>%s: standing in partner program %s</h1>", a.p.Name, program.Name))
	g.Expect(html).To(ContainSubstring("<tr><th>Tier</th><td>%s (rank 1)</td></tr>", selectTier))
	g.Expect(html).To(MatchRegexp(`<tr><th>Since</th><td>\S+Z \([^)]+\), Promoted</td></tr>`))
	// What the next tier needs, and what is missing: 850 more revenue.
	g.Expect(html).To(ContainSubstring(`aria-label="Next tier %s: share of each requirement reached. revenue: 15%%"`, advanced))
	g.Expect(html).To(ContainSubstring("<p>Tier %s (rank 2): 1 of 1 requirements not met.</p>", advanced))
	g.Expect(html).To(MatchRegexp(`<tr><td>revenue</td><td>&gt;= 1000</td><td class="num">150 count</td><td>fresh until \S+Z \(in 89d\)</td><td>no \(15%\)</td><td>850 more</td></tr>`))
	g.Expect(html).To(ContainSubstring(`aria-label="Evidence freshness. fresh: 2, stale within 7d: 0, stale: 0, not counted: 0"`))
	// Entitlements with their source, the open request, the published listing.
	g.Expect(html).To(ContainSubstring("<tr><td>List</td><td>-</td><td>tier %s</td><td>-</td></tr>", selectTier))
	g.Expect(html).To(MatchRegexp(`<tr><td>%s</td><td>ReadinessClaim</td><td>Certification claim for sync; until \S+Z</td><td>\S+Z \([^)]+\)</td><td>office</td><td>\S+Z \(in \d+m\)</td></tr>`, a.request.Name))
	g.Expect(html).To(ContainSubstring("<tr><td>%s</td><td>sync</td><td>App</td><td>1.0.0</td><td>1.0.0</td>", a.listing.Name))
	// Nothing of the other partner, and nothing loaded from elsewhere.
	for _, other := range []string{b.p.Name, b.listing.Name, b.request.Name} {
		g.Expect(html).NotTo(ContainSubstring(other))
	}
	g.Expect(html).NotTo(ContainSubstring("http://"))
	g.Expect(html).NotTo(ContainSubstring("https://"))
	g.Expect(html).NotTo(ContainSubstring("<script"))

	_, err = run("report", "--partner", a.p.Name, "-n", ns, "--html", file, program.Name)
	g.Expect(err).To(MatchError(ContainSubstring("--partner takes no PROGRAM argument")))
	_, err = run("report", "--partner", "nobody", "-n", ns, "--html", file)
	g.Expect(err).To(MatchError(ContainSubstring(`"nobody" not found`)))
}

package controllers_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestSimulateReportsTheDemotionsAndUnpublishedListingsOfAProposedTier(t *testing.T) {
	g := NewWithT(t)
	program, entry, selectTier := ladder(t, 90*24*time.Hour, time.Hour)
	ns := newNamespace(t)
	qualified := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, qualified)
	other := settledPartner(t, g, ns, program.Name) // no evidence: holds the entry tier
	l := newListing(ns, qualified.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, l)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, qualified).Status.Tier).To(Equal(selectTier))
		g.Expect(published(g, l).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())

	// The proposal raises the select tier's revenue threshold above the reported 150.
	dir := t.TempDir()
	proposed := fmt.Sprintf(`apiVersion: governance.partnergov.io/v1alpha1
kind: PartnerTier
metadata:
  name: %s
spec:
  program: %s
  rank: 1
  requirements:
  - {metric: revenue, operator: GreaterThanOrEqual, threshold: "1000"}
  - {metric: training, operator: GreaterThanOrEqual, threshold: "5"}
  entitlements: {resell: true, list: true}
  demotionGracePeriod: 1h
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
`, selectTier, program.Name)
	g.Expect(os.WriteFile(filepath.Join(dir, "tiers.yaml"), []byte(proposed), 0o600)).To(Succeed())

	run := pluginAs(t, g, uniqueName("gitops")+"@example.com", nil,
		readRule([]string{"get", "list"}, "partnerprograms", "partnertiers", "partners", "exceptionrequests", "listings"))
	out, err := run("simulate", "-f", dir, "--max-demotions", "0", "-n", ns)
	g.Expect(err).To(MatchError("the change demotes 1 partner, more than --max-demotions 0"), out)

	g.Expect(out).To(ContainSubstring("ignored ConfigMap unrelated"))
	g.Expect(out).To(MatchRegexp(`\n  %s/%s\s+%s\s+%s\s+%s\s+demotion \(at risk now\)\s+TierAtRisk=True now \(qualifies for %s\); would drop to %s on \S+Z unless evidence recovers\n`,
		ns, qualified.Name, program.Name, selectTier, entry, entry, entry))
	g.Expect(out).To(MatchRegexp(`\n  %s/%s\s+List\s+-\s+at the demotion deadline \S+Z \(in \d+m\), unless evidence recovers\n`, ns, qualified.Name))
	g.Expect(out).To(MatchRegexp(`\n  %s/%s\s+%s\s+unpublish\s+at the demotion deadline \S+Z \(in \d+m\), unless evidence recovers\s+partner %s does not hold the List entitlement`,
		ns, l.Name, qualified.Name, qualified.Name))
	g.Expect(out).NotTo(ContainSubstring(other.Name))
	g.Expect(out).To(ContainSubstring("Summary: 2 partners evaluated, 0 promotions, 1 demotion (1 at risk now, 0 drop now), 1 listing unpublished (0 now, 1 at a demotion deadline), 0 published\n"))

	// The dry run changed nothing.
	g.Expect(getPartner(g, qualified).Status.DemotionDeadline).To(BeNil())

	out, err = run("simulate", "-f", dir, "--max-demotions", "5", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("1 demotion (1 at risk now, 0 drop now)"))
}

func TestSimulatePruneDeletesTiersMissingFromTheFilesAndFailsWhenTheDeletionIsRefused(t *testing.T) {
	g := NewWithT(t)
	program, entry, selectTier := ladder(t, 90*24*time.Hour, time.Hour)
	ns := newNamespace(t)
	holder := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, holder)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, holder).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	// The files hold the program's entry tier only: the select tier is missing.
	dir := t.TempDir()
	proposed := fmt.Sprintf(`apiVersion: governance.partnergov.io/v1alpha1
kind: PartnerTier
metadata:
  name: %s
spec:
  program: %s
  rank: 0
  entitlements: {resell: true}
`, entry, program.Name)
	g.Expect(os.WriteFile(filepath.Join(dir, "tiers.yaml"), []byte(proposed), 0o600)).To(Succeed())
	run := pluginAs(t, g, uniqueName("gitops")+"@example.com", nil,
		readRule([]string{"get", "list"}, "partnerprograms", "partnertiers", "partners", "exceptionrequests", "listings"))

	// Without --prune the missing tier stays: nothing changes for the holder.
	out, err := run("simulate", "-f", dir, "-n", ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).NotTo(ContainSubstring(holder.Name))
	g.Expect(out).NotTo(ContainSubstring("Deletions"))

	// With --prune the select tier is deleted: the holder is evaluated without it,
	// and the deletion is refused because the holder holds it.
	out, err = run("simulate", "-f", dir, "--prune", "-n", ns)
	refusal := fmt.Sprintf(`PartnerTier %q is held by 1 Partner; set spec.retired: true to drain it`, selectTier)
	g.Expect(err).To(HaveOccurred(), out)
	g.Expect(err.Error()).To(ContainSubstring("--prune deletes PartnerTier %s, which admission would refuse: %s", selectTier, refusal))
	g.Expect(out).To(MatchRegexp(`\n  PartnerTier\s+%s\s+refused: %s`, selectTier, refusal))
	g.Expect(out).To(MatchRegexp(`\n  %s/%s\s+%s\s+%s\s+%s\s+demotion \(drops now\)`, ns, holder.Name, program.Name, selectTier, entry))

	// The dry run deleted nothing.
	var sel v1alpha1.PartnerTier
	g.Expect(admin.Get(ctx, client.ObjectKey{Name: selectTier}, &sel)).To(Succeed())
	g.Expect(getPartner(g, holder).Status.Tier).To(Equal(selectTier))
}

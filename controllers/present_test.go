package controllers_test

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/plugin"
)

// presentDecisions is how many tier decisions TestAPartnerCarriesOnlyItsPresent makes.
const presentDecisions = 10

// Issue 28, item 1: a Partner carries only its present. After ten tier
// decisions, each recorded, the stored partner's status.history holds the
// newest decision and the recorded one it followed, while its DecisionRecords
// (kubectl partnergov history) still list every one. The test logs the stored partner's size.
func TestAPartnerCarriesOnlyItsPresent(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, selectTier := ladder(t, time.Hour, 0)
	p := settledPartner(t, g, ns, program.Name) // none -> entry
	crm := qualifyForSelect(t, g, p)            // entry -> select
	tierFor := map[string]string{"150": selectTier, "50": entry}
	revenue := "150"
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())
	for n := 2; n < presentDecisions; n++ {
		// A record's name has its decision's time in whole seconds: one flip a
		// second keeps two decisions of the same tiers apart.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		revenue = map[string]string{"150": "50", "50": "150"}[revenue]
		g.Expect(reportEvidence(crm, "crm", p, "revenue", revenue, time.Now())).To(Succeed())
		eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(tierFor[revenue])) }).Should(Succeed())
	}
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		// The newest, and the recorded one it followed: dropping recorded
		// decisions rides on the next decision's write, never a write of its own.
		g.Expect(len(got.Status.History)).To(BeNumerically("<=", 2), "the history keeps the present: the newest decision and the recorded one before it")
		g.Expect(got.Status.History[len(got.Status.History)-1].To).To(Equal(got.Status.Tier))
		g.Expect(countBy(recordsOf(g, p))).To(HaveKeyWithValue(recordsv1alpha1.DecisionTierChange, presentDecisions))
	}).Should(Succeed())

	listed, err := plugin.History(ctx, admin, client.ObjectKeyFromObject(p))
	g.Expect(err).NotTo(HaveOccurred())
	tierChanges := 0
	for _, r := range listed {
		if r.Spec.Type == recordsv1alpha1.DecisionTierChange {
			tierChanges++
		}
	}
	g.Expect(tierChanges).To(Equal(presentDecisions), "kubectl partnergov history lists every decision")
	v := verifyChain(g, ns, p.Name)
	g.Expect(v.Verified()).To(BeTrue(), "%v", v.Findings)

	got := getPartner(g, p)
	whole, err := json.Marshal(got)
	g.Expect(err).NotTo(HaveOccurred())
	history, err := json.Marshal(got.Status.History)
	g.Expect(err).NotTo(HaveOccurred())
	t.Logf("stored partner after %d tier decisions: %d bytes (status.history %d entries, %d bytes)", presentDecisions, len(whole), len(got.Status.History), len(history))
}

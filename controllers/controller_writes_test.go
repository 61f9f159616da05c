package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
	"github.com/partnergov/partnergov/test/testenv"
)

// TestTheManagersWritesToReportedFieldsStillGoThroughTheGuards: the manager's
// own status writes skip the partners/status and dealregistrations/status
// webhooks only while they leave the reported fields alone
// (config/webhook/controller_writes_patch.yaml). Written with the manager's
// identity, a changed or removed evidence entry and a deal outcome still reach
// the guards, which refuse them.
func TestTheManagersWritesToReportedFieldsStillGoThroughTheGuards(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	p := f.partners[0]
	crm := userClient(t, crmUser, nil, integrationRules...)
	g.Expect(reportEvidence(crm, "crm", p, "revenue", "150", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, p).Status.Evidence).To(ContainElement(HaveField("Source", crmUser)))
	}).Should(Succeed())
	cfg, err := env.UserConfig(testenv.ManagerUser)
	g.Expect(err).NotTo(HaveOccurred())
	manager := newClient(t, cfg)

	// The manager changes the CRM's revenue: the guard refuses, it reports nothing.
	got := getPartner(g, p)
	before := got.DeepCopy()
	for i := range got.Status.Evidence {
		if got.Status.Evidence[i].Metric == "revenue" {
			got.Status.Evidence[i].Value = "999999"
		}
	}
	err = manager.Status().Patch(ctx, got, client.MergeFrom(before), client.FieldOwner(controllers.FieldOwner))
	g.Expect(err).To(MatchError(ContainSubstring("is not trusted to report metric")))
	// The manager removes the CRM's evidence: refused too.
	got = before.DeepCopy()
	got.Status.Evidence = nil
	err = manager.Status().Patch(ctx, got, client.MergeFrom(before), client.FieldOwner(controllers.FieldOwner))
	g.Expect(err).To(MatchError(ContainSubstring("may not remove evidence")))
	g.Expect(getPartner(g, p).Status.Evidence).To(ContainElement(And(HaveField("Source", crmUser), HaveField("Value", v1alpha1.Decimal("150")))))

	// The manager reports a deal won: refused, only the program's CRM reports outcomes.
	d := f.register(g, p, "outcome-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	err = reportWon(g, manager, d, "120000")
	g.Expect(err).To(MatchError(ContainSubstring("the controller does not write a deal's outcome")))
	g.Expect(getDeal(g, d).Status.Outcome).To(BeNil())
	// The manager confirms an influence claim: refused, only the CRM confirms.
	g.Expect(claimInfluence(g, f.registrar, d, p)).To(Succeed())
	err = confirmInfluence(g, manager, d)
	g.Expect(err).To(MatchError(ContainSubstring("the controller does not confirm influence")))
	g.Expect(getDeal(g, d).Status.InfluenceConfirmations).To(BeEmpty())
}

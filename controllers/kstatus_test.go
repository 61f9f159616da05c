package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// kstatusOf reads obj from the API server and computes its kstatus, as Argo CD
// and Flux do for health.
func kstatusOf(g Gomega, obj client.Object) status.Status {
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(&unstructured.Unstructured{Object: u})
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}

func TestEveryKindIsKstatusCompatible(t *testing.T) {
	g := NewWithT(t)
	f, entry, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	l := newListing(f.ns, f.partner.Name)
	g.Expect(admin.Create(ctx, l)).To(Succeed())

	settled := map[string]client.Object{
		"PartnerProgram": &v1alpha1.PartnerProgram{}, "PartnerTier": &v1alpha1.PartnerTier{},
		"ReviewPath": &v1alpha1.ReviewPath{}, "Partner": f.partner, "Listing": l,
	}
	settled["PartnerProgram"].SetName(f.program.Name)
	settled["PartnerTier"].SetName(entry)
	settled["ReviewPath"].SetName(f.path.Name)
	for kind, obj := range settled {
		eventually(g, func(g Gomega) { g.Expect(kstatusOf(g, obj)).To(Equal(status.CurrentStatus), kind) }).Should(Succeed())
	}

	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) { g.Expect(kstatusOf(g, r)).To(Equal(status.InProgressStatus)) }).Should(Succeed())
	g.Expect(decide(reviewer(t, "alice@example.com", f.path, "manager"), r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(kstatusOf(g, r)).To(Equal(status.CurrentStatus)) }).Should(Succeed())
}

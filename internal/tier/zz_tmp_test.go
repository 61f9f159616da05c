package tier
import ("testing";"time"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"github.com/partnergov/partnergov/api/v1alpha1")
func TestTmpTrunc(t *testing.T) {
	const uid = "uid-acme"
	var history []v1alpha1.TierDecision
	for _, d := range []v1alpha1.TierDecision{
		{Time: metav1.NewTime(now.Add(-200 * day)), To: "gold", Reason: v1alpha1.ReasonPromoted},
		{Time: metav1.NewTime(now.Add(-100 * day)), From: "gold", To: "platinum", Reason: v1alpha1.ReasonPromoted, Request: "acme-promote-platinum"},
		{Time: metav1.NewTime(now.Add(-10 * day)), From: "platinum", To: "gold", Reason: v1alpha1.ReasonDemoted},
	} {
		testSeals.NextTier(uid, history, &d)
		history = append(history, d)
	}
	for name, h := range map[string][]v1alpha1.TierDecision{"full": history, "trunc": history[:2]} {
		in := sealedInput(holding("platinum"), withEvidence(platinumEvidence()...),
			withGrant(tierPromotion("acme-promote-platinum", "platinum", at(300*day))))
		in.Partner.Status.History, in.Partner.Status.Grants = h, nil
		r := Evaluate(in)
		t.Logf("%s: tier %q decision %s %+v", name, r.Status.Tier, describeDecision(r.Decision), r.Status.Conditions)
		in = sealedInput(holding("gold"), withEvidence(silverEvidence()...))
		in.Partner.Status.History = h[:1]
		r = Evaluate(in)
		t.Logf("%s silver-ev gold: tier %q decision %s %+v", name, r.Status.Tier, describeDecision(r.Decision), r.Status.Conditions)
	}
	_ = time.Second
}

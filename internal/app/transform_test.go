package app

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// samplePartner is a partner as the bench leaves it: three evidence entries,
// a tier with entitlements, six conditions and two decisions.
func samplePartner(i int) []byte {
	now := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	p := v1alpha1.Partner{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Partner"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("partner-%05d", i), Namespace: "partners",
			Annotations:   map[string]string{lastApplied: `{"apiVersion":"governance.partnergov.io/v1alpha1","kind":"Partner"}`, "team": "emea"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "crm", Operation: metav1.ManagedFieldsOperationApply}}},
		Spec: v1alpha1.PartnerSpec{Program: "global", Type: v1alpha1.PartnerTypeGSI, Owner: "jordan.lee@example.com"},
	}
	for _, m := range []string{"revenue", "nps", "certified"} {
		p.Status.Evidence = append(p.Status.Evidence, v1alpha1.EvidenceEntry{Metric: m, Value: "10", ObservedAt: now,
			Source: "system:serviceaccount:partnergov-integrations:crm-sync", TrustedVia: "group:partnergov:crm"})
	}
	for _, c := range []string{"Ready", "TierQualified", "TierAtRisk", "EvidenceFresh", "EvidenceTrusted", "EntitlementsApplied"} {
		p.Status.Conditions = append(p.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: "Reconciled",
			Message: "the partner meets every requirement of tier advanced", LastTransitionTime: now})
	}
	for _, to := range []string{"registered", "advanced"} {
		p.Status.History = append(p.Status.History, v1alpha1.TierDecision{To: to, Reason: "Qualified", Time: now})
	}
	for _, e := range []string{"resell", "mdf", "deal-registration", "listing"} {
		p.Status.Entitlements = append(p.Status.Entitlements, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementName(e), Source: v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: "advanced"}})
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

func TestTheCacheKeepsNoManagedFieldsNoLastAppliedCopyAndNoSpareRoom(t *testing.T) {
	var p v1alpha1.Partner
	if err := json.Unmarshal(samplePartner(1), &p); err != nil {
		t.Fatal(err)
	}
	if cap(p.Status.Conditions) == len(p.Status.Conditions) {
		t.Fatalf("the decoder left no spare room to trim (len %d, cap %d): the test needs another sample", len(p.Status.Conditions), cap(p.Status.Conditions))
	}
	if _, err := trimForCache(&p); err != nil {
		t.Fatal(err)
	}
	if p.ManagedFields != nil {
		t.Errorf("managed fields kept: %v", p.ManagedFields)
	}
	if _, ok := p.Annotations[lastApplied]; ok || p.Annotations["team"] != "emea" {
		t.Errorf("annotations = %v, want only the last-applied copy dropped", p.Annotations)
	}
	for name, lc := range map[string][2]int{
		"evidence":     {len(p.Status.Evidence), cap(p.Status.Evidence)},
		"conditions":   {len(p.Status.Conditions), cap(p.Status.Conditions)},
		"history":      {len(p.Status.History), cap(p.Status.History)},
		"entitlements": {len(p.Status.Entitlements), cap(p.Status.Entitlements)},
	} {
		if lc[0] != lc[1] {
			t.Errorf("%s: len %d, cap %d: spare room kept", name, lc[0], lc[1])
		}
	}
}

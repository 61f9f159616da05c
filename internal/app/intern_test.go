package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// fullPartner is decided bench partner i with every list of spec, metadata
// and status filled, as raw JSON.
func fullPartner(t *testing.T, i int) []byte {
	t.Helper()
	program, tiers := benchProgram()
	var p v1alpha1.Partner
	if err := json.Unmarshal(decidedPartner(t, benchKeys(t), program, tiers, i), &p); err != nil {
		t.Fatal(err)
	}
	at := metav1.NewTime(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	usd := func(a string) v1alpha1.Money { return v1alpha1.Money{Amount: v1alpha1.Decimal(a), Currency: "USD"} }
	p.Labels = map[string]string{"partnergov.io/region": "emea", "team": "alliances"}
	p.Annotations = map[string]string{lastApplied: `{"kind":"Partner"}`, "partnergov.io/crm-id": fmt.Sprintf("crm-%d", i)}
	p.Finalizers = []string{"governance.partnergov.io/records"}
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: fmt.Sprintf("owner-%d", i), UID: "u-1"}}
	p.Spec.Segments, p.Spec.Regions = []string{"smb", "enterprise"}, []string{"emea"}
	p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: at}
	s := &p.Status
	cap := usd("50000")
	s.Entitlements = append(s.Entitlements, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementFunds, Segments: []string{"smb"}, Cap: &cap,
		Source: v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: "bench-premier"}, Expires: &at})
	s.DealMetrics = []v1alpha1.ComputedMetric{{Metric: "deals-won", Value: "3", Deals: []string{"d-1", "d-2", "d-3"}, DealCount: 3}}
	s.Funds = &v1alpha1.FundsStatus{Quarter: "2026-Q4", Cap: &cap, Committed: "1000",
		Commitments: []v1alpha1.FundsCommitment{{Request: "f-1", Amount: usd("1000"), CommittedAt: at}}}
	s.ReadinessClaims = []v1alpha1.ApprovedClaim{{Kind: v1alpha1.ReadinessClaimCertification, Product: "widget", Request: "c-1", Expires: &at}}
	s.Grants = []v1alpha1.ActiveGrant{{Request: "g-1", Type: v1alpha1.RequestTierException, Tier: "bench-premier", Expires: &at, AppliedAt: &at}}
	s.Lifecycle.Onboarding = []v1alpha1.OnboardingStepStatus{{Name: "certify", State: v1alpha1.OnboardingStepMet, Due: at, MetAt: &at}}
	s.Lifecycle.ProbationReasons = []string{"escalations above 3"}
	s.Lifecycle.Withheld = []v1alpha1.EntitlementName{v1alpha1.EntitlementFunds}
	s.Lifecycle.Transitions = []v1alpha1.LifecycleTransition{{Time: at, From: v1alpha1.LifecycleOnboarding, To: v1alpha1.LifecycleActive, Reason: "Onboarded", Message: "every step met"}}
	if s.Enablement == nil {
		s.Enablement = &v1alpha1.PartnerEnablement{Tier: "bench-premier"}
	}
	s.Enablement.Required = []v1alpha1.RequiredTrack{{Track: "sales-101", Tier: "bench-premier", Description: "sales basics"}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode decodes data as the informer does.
func decode(t *testing.T, data []byte) apiruntime.Object {
	t.Helper()
	obj, _, err := informerDecoder(t).Decode(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestTheCacheTransformKeepsEveryValue: apart from managed fields and the
// last-applied annotation, the transformed object equals the decoded one.
func TestTheCacheTransformKeepsEveryValue(t *testing.T) {
	program, tiers := benchProgram()
	configMap, err := json.Marshal(&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "bench", Labels: map[string]string{"app": "partnergov"},
			Annotations:   map[string]string{lastApplied: "{}", "note": "kept"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}}},
		Data: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"decided bench partner":           decidedPartner(t, benchKeys(t), program, tiers, 7),
		"partner with every list filled":  fullPartner(t, 8),
		"partner with no status":          []byte(`{"apiVersion":"governance.partnergov.io/v1alpha1","kind":"Partner","metadata":{"name":"p","namespace":"n"},"spec":{"program":"bench","type":"GSI","owner":"o@example.com"}}`),
		"another kind: a labelled config": configMap,
	} {
		t.Run(name, func(t *testing.T) {
			obj := decode(t, data)
			want := obj.DeepCopyObject()
			wantMeta := want.(metav1.Object)
			wantMeta.SetManagedFields(nil)
			if a := wantMeta.GetAnnotations(); a != nil {
				delete(a, lastApplied)
			}
			got, err := trimForCache(obj)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Errorf("the transform changed a value:\n got %s\nwant %s", gj, wj)
			}
			if m := got.(metav1.Object); m.GetManagedFields() != nil || m.GetAnnotations()[lastApplied] != "" {
				t.Errorf("managed fields %v or the last-applied copy kept", m.GetManagedFields())
			}
		})
	}
}

// TestTheCacheSharesRepeatedStringsAndNoUniqueOnes: two cached partners share
// one copy of each value drawn from a small set; values unique to an object
// (names, UIDs, seals, values) are never put in the process-wide interner,
// which would keep them for the manager's lifetime.
func TestTheCacheSharesRepeatedStringsAndNoUniqueOnes(t *testing.T) {
	a := decode(t, fullPartner(t, 1)).(*v1alpha1.Partner)
	b := decode(t, fullPartner(t, 5)).(*v1alpha1.Partner) // same tier as 1
	for _, p := range []*v1alpha1.Partner{a, b} {
		if _, err := trimForCache(p); err != nil {
			t.Fatal(err)
		}
	}
	label := func(p *v1alpha1.Partner) string {
		for k := range p.Labels {
			if k == "team" {
				return k
			}
		}
		return ""
	}
	for name, c := range map[string]struct {
		field  func(*v1alpha1.Partner) string
		shared bool
	}{
		"namespace":                {func(p *v1alpha1.Partner) string { return p.Namespace }, true},
		"label key":                {label, true},
		"label value":              {func(p *v1alpha1.Partner) string { return p.Labels["team"] }, true},
		"finalizer":                {func(p *v1alpha1.Partner) string { return p.Finalizers[0] }, true},
		"owner kind":               {func(p *v1alpha1.Partner) string { return p.OwnerReferences[0].Kind }, true},
		"spec program":             {func(p *v1alpha1.Partner) string { return p.Spec.Program }, true},
		"spec owner":               {func(p *v1alpha1.Partner) string { return p.Spec.Owner }, true},
		"evidence metric":          {func(p *v1alpha1.Partner) string { return p.Status.Evidence[3].Metric }, true},
		"evidence source":          {func(p *v1alpha1.Partner) string { return p.Status.Evidence[3].Source }, true},
		"evidence trusted via":     {func(p *v1alpha1.Partner) string { return p.Status.Evidence[3].TrustedVia }, true},
		"tier":                     {func(p *v1alpha1.Partner) string { return p.Status.Tier }, true},
		"entitlement name":         {func(p *v1alpha1.Partner) string { return string(p.Status.Entitlements[0].Name) }, true},
		"entitlement source name":  {func(p *v1alpha1.Partner) string { return p.Status.Entitlements[0].Source.Name }, true},
		"condition type":           {func(p *v1alpha1.Partner) string { return p.Status.Conditions[2].Type }, true},
		"condition status":         {func(p *v1alpha1.Partner) string { return string(p.Status.Conditions[2].Status) }, true},
		"condition reason":         {func(p *v1alpha1.Partner) string { return p.Status.Conditions[2].Reason }, true},
		"condition message":        {func(p *v1alpha1.Partner) string { return p.Status.Conditions[2].Message }, true},
		"lifecycle message":        {func(p *v1alpha1.Partner) string { return p.Status.Lifecycle.Message }, true},
		"lifecycle transition":     {func(p *v1alpha1.Partner) string { return p.Status.Lifecycle.Transitions[0].Message }, true},
		"grant type":               {func(p *v1alpha1.Partner) string { return string(p.Status.Grants[0].Type) }, true},
		"claim product":            {func(p *v1alpha1.Partner) string { return p.Status.ReadinessClaims[0].Product }, true},
		"funds quarter":            {func(p *v1alpha1.Partner) string { return p.Status.Funds.Quarter }, true},
		"enablement track":         {func(p *v1alpha1.Partner) string { return p.Status.Enablement.Required[0].Track }, true},
		"decision message":         {func(p *v1alpha1.Partner) string { return p.Status.History[0].Message }, true},
		"decision evidence metric": {func(p *v1alpha1.Partner) string { return p.Status.History[0].Evidence[0].Metric }, true},
		"name":                     {func(p *v1alpha1.Partner) string { return p.Name }, false},
		"uid":                      {func(p *v1alpha1.Partner) string { return string(p.UID) }, false},
		"resource version":         {func(p *v1alpha1.Partner) string { return p.ResourceVersion }, false},
		"owner name":               {func(p *v1alpha1.Partner) string { return p.OwnerReferences[0].Name }, false},
		"evidence seal":            {func(p *v1alpha1.Partner) string { return p.Status.Evidence[3].Seal }, false},
		"evidence value":           {func(p *v1alpha1.Partner) string { return string(p.Status.Evidence[5].Value) }, false},
		"decision seal":            {func(p *v1alpha1.Partner) string { return p.Status.History[0].Seal }, false},
		"grant request":            {func(p *v1alpha1.Partner) string { return p.Status.Grants[0].Request }, false},
		"deal name":                {func(p *v1alpha1.Partner) string { return p.Status.DealMetrics[0].Deals[0] }, false},
	} {
		t.Run(name, func(t *testing.T) {
			va, vb := c.field(a), c.field(b)
			if va == "" {
				t.Fatal("the fixture leaves this field empty")
			}
			if c.shared {
				if va != vb {
					t.Fatalf("the fixture gives the two partners different values %q and %q", va, vb)
				}
				if unsafe.StringData(va) != unsafe.StringData(vb) {
					t.Errorf("%q is held twice, not shared", va)
				}
				return
			}
			if cacheStrings.holds(va) {
				t.Errorf("%q, unique to one object, is kept in the interner", va)
			}
		})
	}
}

// holds reports whether s is in the interner.
func (in *interner) holds(s string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	_, cur := in.current[s]
	_, prev := in.previous[s]
	return cur || prev
}

// TestTheInternerStaysBoundedAndKeepsWhatIsInUse: fed strings that never
// repeat, the interner holds at most two generations; a string looked up all
// along keeps one copy; a string too long is not kept.
func TestTheInternerStaysBoundedAndKeepsWhatIsInUse(t *testing.T) {
	in := &interner{}
	hot := in.intern(strings.Clone("Reconciled"))
	for i := range 5 * internGeneration {
		in.intern(fmt.Sprintf("one-off-%d", i))
		if i%(internGeneration/2) == 0 {
			if got := in.intern(strings.Clone("Reconciled")); unsafe.StringData(got) != unsafe.StringData(hot) {
				t.Fatalf("after %d one-off strings a string in use got a new copy", i)
			}
		}
	}
	if n := len(in.current) + len(in.previous); n > 2*internGeneration {
		t.Errorf("the interner holds %d strings, want at most %d", n, 2*internGeneration)
	}
	long := strings.Repeat("x", maxInternedLen+1)
	if in.intern(long); in.holds(long) {
		t.Errorf("a string of %d bytes is kept", len(long))
	}
	if got := in.intern(""); got != "" || in.holds("") {
		t.Errorf("the empty string is kept")
	}
}

// TestTheCacheKeepsNoSpareRoomInDecisionEvidence: the evidence list of each
// tier decision is clipped like the status lists.
func TestTheCacheKeepsNoSpareRoomInDecisionEvidence(t *testing.T) {
	program, tiers := benchProgram()
	p := decode(t, decidedPartner(t, benchKeys(t), program, tiers, 3)).(*v1alpha1.Partner) // premier: five requirements
	ev := p.Status.History[0].Evidence
	if cap(ev) == len(ev) {
		t.Fatalf("the decoder left no spare room to trim (len %d, cap %d): the test needs another sample", len(ev), cap(ev))
	}
	if _, err := trimForCache(p); err != nil {
		t.Fatal(err)
	}
	if ev := p.Status.History[0].Evidence; cap(ev) != len(ev) {
		t.Errorf("decision evidence: len %d, cap %d: spare room kept", len(ev), cap(ev))
	}
}

package offboarding

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func partner(effective *time.Time, phase v1alpha1.LifecyclePhase) *v1alpha1.Partner {
	p := &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme"}}
	if effective != nil {
		p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(*effective)}
	}
	if phase != "" {
		p.Status.Lifecycle = &v1alpha1.PartnerLifecycle{Phase: phase}
	}
	return p
}

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

func TestOffboardingTakesEffectAtItsEffectiveTime(t *testing.T) {
	for name, tc := range map[string]struct {
		effective *time.Time
		want      bool
		deadline  *time.Time
	}{
		"no offboarding":               {nil, false, nil},
		"effective later: not yet":     {at(time.Hour), false, at(time.Hour)},
		"effective now: in effect":     {at(0), true, nil},
		"effective earlier: in effect": {at(-time.Hour), true, nil},
	} {
		t.Run(name, func(t *testing.T) {
			p := partner(tc.effective, "")
			if got := p.OffboardingEffective(now); got != tc.want {
				t.Errorf("OffboardingEffective = %v, want %v", got, tc.want)
			}
			got := Deadline(p, now)
			if (got == nil) != (tc.deadline == nil) || (got != nil && !got.Equal(*tc.deadline)) {
				t.Errorf("Deadline = %v, want %v", got, tc.deadline)
			}
		})
	}
}

func TestAnOffboardedPartnerGetsNothingNew(t *testing.T) {
	for name, tc := range map[string]struct {
		effective *time.Time
		refused   bool
	}{
		"no offboarding":                {nil, false},
		"offboarding not yet in effect": {at(time.Minute), false},
		"offboarding in effect":         {at(-time.Minute), true},
	} {
		t.Run(name, func(t *testing.T) {
			err := RefuseNew(partner(tc.effective, ""), "DealRegistration", now)
			if (err != nil) != tc.refused {
				t.Fatalf("RefuseNew = %v, refused want %v", err, tc.refused)
			}
			if err != nil && (err.Field != "spec.partner" || !strings.Contains(err.Error(), "an offboarded partner gets no new DealRegistration") ||
				!strings.Contains(err.Error(), "contract ended")) {
				t.Errorf("unclear refusal: %v", err)
			}
		})
	}
}

func TestAnEffectiveOffboardingCannotBeUndone(t *testing.T) {
	later := at(time.Hour)
	changedReason := partner(at(-time.Minute), "")
	changedReason.Spec.Offboarding.Reason = "changed my mind"
	for name, tc := range map[string]struct {
		old, updated *v1alpha1.Partner
		refused      bool
	}{
		"set for the first time":              {partner(nil, ""), partner(at(-time.Minute), ""), false},
		"removed before it takes effect":      {partner(later, ""), partner(nil, ""), false},
		"moved before it takes effect":        {partner(later, ""), partner(at(2*time.Hour), ""), false},
		"unchanged once in effect":            {partner(at(-time.Minute), ""), partner(at(-time.Minute), ""), false},
		"removed once in effect":              {partner(at(-time.Minute), ""), partner(nil, ""), true},
		"moved later once in effect":          {partner(at(-time.Minute), ""), partner(later, ""), true},
		"reason changed once in effect":       {partner(at(-time.Minute), ""), changedReason, true},
		"in effect exactly now, then removed": {partner(at(0), ""), partner(nil, ""), true},
	} {
		t.Run(name, func(t *testing.T) {
			err := Change(tc.old, tc.updated, now)
			if (err != nil) != tc.refused {
				t.Fatalf("Change = %v, refused want %v", err, tc.refused)
			}
			if err != nil && (err.Field != "spec.offboarding" || !strings.Contains(err.Error(), "cannot be removed or changed")) {
				t.Errorf("unclear refusal: %v", err)
			}
		})
	}
}

func TestAPartnerIsDeletedOnlyOnceOffboarded(t *testing.T) {
	for name, tc := range map[string]struct {
		p    *v1alpha1.Partner
		want string // "" when the deletion is admitted
	}{
		"never offboarded":                           {partner(nil, ""), "set spec.offboarding (reason and effective) first"},
		"active":                                     {partner(nil, v1alpha1.LifecycleActive), "set spec.offboarding"},
		"offboarding not yet in effect":              {partner(at(time.Hour), v1alpha1.LifecycleOffboarding), "may be deleted from then on"},
		"offboarding in effect":                      {partner(at(-time.Second), ""), ""},
		"offboarding in effect, phase not caught up": {partner(at(-time.Second), v1alpha1.LifecycleOffboarding), ""},
		"shown Offboarded by the controller":         {partner(at(-time.Hour), v1alpha1.LifecycleOffboarded), ""},
	} {
		t.Run(name, func(t *testing.T) {
			got := Deletion(tc.p, now)
			if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Deletion = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTheRevokedIntegrationReportsNoEvidence(t *testing.T) {
	own := "system:serviceaccount:partners:acme-integration"
	for name, tc := range map[string]struct {
		p        *v1alpha1.Partner
		username string
		refused  bool
	}{
		"own integration before the offboarding":    {partner(at(time.Hour), ""), own, false},
		"own integration once offboarded":           {partner(at(-time.Hour), ""), own, true},
		"the CRM once offboarded":                   {partner(at(-time.Hour), ""), "system:serviceaccount:integrations:crm-sync", false},
		"another partner's integration, offboarded": {partner(at(-time.Hour), ""), "system:serviceaccount:partners:nimbus-integration", false},
	} {
		t.Run(name, func(t *testing.T) {
			got := EvidenceRefusal(tc.p, tc.username, now)
			if (got != "") != tc.refused {
				t.Errorf("EvidenceRefusal = %q, refused want %v", got, tc.refused)
			}
		})
	}
}

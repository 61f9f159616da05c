package deal

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// TestAProgramEditDoesNotMoveAHeldCustomer: keys of an open registration are
// fixed when it is decided. A program editor who adds the held customer's
// domain to freeMailDomains, or aliases it to another customer's domain, moves
// nothing: an Approved or UnderReview registration keeps the canonical domain
// and conflict keys its sealed standing stores (status.conflictKeys), its
// protection and its locks. New and queued registrations use the new rules.
// Keys written into the status past the webhooks (not covered by the seal)
// are not trusted: they are computed again.
func TestAProgramEditDoesNotMoveAHeldCustomer(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	day := 24 * time.Hour
	key := "global/domain:globex.com/sync"
	holding := func(phase v1alpha1.DealPhase) func(*v1alpha1.DealRegistration) {
		return func(d *v1alpha1.DealRegistration) {
			d.Status.Phase = phase
			d.Status.CanonicalDomain, d.Status.ConflictKey, d.Status.ConflictKeys, d.Status.Lock = "globex.com", key, []string{key}, LockName(key)
			if phase == v1alpha1.DealApproved {
				d.Status.ApprovedAt, d.Status.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(30 * day)}
			} else {
				d.Status.Request = ReviewName(d)
			}
			d.Status.Seal = keys.Sign(seal.Standing(string(d.UID), d.Status)...)
		}
	}
	auto := func(r v1alpha1.DealRegistrationRules) *v1alpha1.PartnerProgram {
		r.AutoApprove = &v1alpha1.DealAutoApproval{}
		return program(&r)
	}
	edits := map[string]*v1alpha1.PartnerProgram{
		"the customer's domain made a free-mail domain":          auto(v1alpha1.DealRegistrationRules{FreeMailDomains: []string{"globex.com"}}),
		"the customer's domain aliased to another's":             auto(v1alpha1.DealRegistrationRules{DomainAliases: []v1alpha1.DomainAlias{{Domain: "globex.com", Canonical: "initech.com"}}}),
		"the customer's domain aliased to a domain nobody holds": auto(v1alpha1.DealRegistrationRules{DomainAliases: []v1alpha1.DomainAlias{{Domain: "globex.com", Canonical: "globex.co.uk"}}}),
	}
	for name, edited := range edits {
		for _, phase := range []v1alpha1.DealPhase{v1alpha1.DealApproved, v1alpha1.DealUnderReview} {
			t.Run(name+"/"+string(phase), func(t *testing.T) {
				d := registration("d1", now.Add(-20*day), holding(phase))
				if _, k, err := HeldKeys(d, edited, keys); err != nil || !slices.Equal(k, []string{key}) {
					t.Errorf("HeldKeys = %v (%v), want the keys it was decided with", k, err)
				}
				r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: edited, Lock: Lock{State: LockMine}, Seals: keys})
				if r.Status.Phase != phase || r.Lock == Release {
					t.Fatalf("phase %s (%s: %s), lock %d; want %s, holding its customer", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock, phase)
				}
				if r.Status.CanonicalDomain != "globex.com" || !slices.Equal(r.Status.ConflictKeys, []string{key}) || r.Status.Lock != LockName(key) {
					t.Errorf("keys moved to %s %v (lock %s)", r.Status.CanonicalDomain, r.Status.ConflictKeys, r.Status.Lock)
				}
				if phase == v1alpha1.DealApproved && !r.Status.ProtectedUntil.Equal(d.Status.ProtectedUntil) {
					t.Errorf("protection moved to %v", r.Status.ProtectedUntil)
				}
			})
		}
	}

	// New registrations, and queued ones (they hold nothing), use the new rules.
	aliased := edits["the customer's domain aliased to another's"]
	fresh := registration("fresh", now.Add(-time.Minute))
	if _, k, _ := HeldKeys(fresh, aliased, keys); !slices.Equal(k, []string{"global/domain:initech.com/sync"}) {
		t.Errorf("a new registration's keys %v, want those of the new rules", k)
	}
	queued := registration("q", now.Add(-day), func(d *v1alpha1.DealRegistration) {
		d.Status.Phase, d.Status.CanonicalDomain, d.Status.ConflictKey, d.Status.ConflictKeys = v1alpha1.DealQueued, "globex.com", key, []string{key}
		d.Status.Seal = keys.Sign(seal.Standing(string(d.UID), d.Status)...)
	})
	if _, k, _ := HeldKeys(queued, aliased, keys); !slices.Equal(k, []string{"global/domain:initech.com/sync"}) {
		t.Errorf("a queued registration's keys %v, want those of the new rules", k)
	}

	// Keys stored before D-U-N-S numbers had keys gain the number's key, next
	// to the domain's the registration was decided with.
	legacy := registration("d1", now.Add(-20*day), withDUNS("123456789"), holding(v1alpha1.DealApproved))
	if _, k, _ := HeldKeys(legacy, aliased, keys); !slices.Equal(k, []string{key, "global/duns:123456789/sync"}) {
		t.Errorf("a held registration's keys %v, want its domain's and its number's", k)
	}

	// Keys written past the webhooks are not the decided ones: the seal does
	// not cover them, and they are computed again (the standing, no longer
	// sealed, gives nothing either).
	tampered := registration("d1", now.Add(-20*day), holding(v1alpha1.DealApproved), func(d *v1alpha1.DealRegistration) {
		d.Status.ConflictKeys = []string{"global/domain:victim.com/sync"}
	})
	if _, k, _ := HeldKeys(tampered, program(nil), keys); !slices.Equal(k, []string{key}) {
		t.Errorf("tampered keys: HeldKeys = %v, want the keys computed again", k)
	}
	if keys.StandingSealed(tampered) {
		t.Errorf("a standing whose keys were changed still verifies")
	}
}

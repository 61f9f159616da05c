package deal

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// TestAForgedLockProtectsNothing: a lock grants protection only when its
// holder is sealed. The controller seals the locks it takes (and the webhook
// the direct team's claims); a lock written past the webhooks naming a holder
// no decision gave (no seal, a seal under another key, a sealed lock whose
// holder, since or until was changed) holds nothing for anyone: it reads as
// free, names nobody (so nobody counts it as a loss), and the registration
// first in line takes it over. With sealing off locks read as before; while
// the state stored before sealing is adopted, a lock without any seal counts.
func TestAForgedLockProtectsNothing(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	other, _ := seal.New([]byte(strings.Repeat("o", 32)))
	day := 24 * time.Hour
	key := "global/domain:globex.com/sync"
	approved := inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(30 * day)}
		s.ConflictKey, s.ConflictKeys, s.CanonicalDomain = key, []string{key}, "globex.com"
	})
	sealedStanding := func(k *seal.Keys) func(*v1alpha1.DealRegistration) {
		return func(d *v1alpha1.DealRegistration) { d.Status.Seal = k.Sign(seal.Standing(string(d.UID), d.Status)...) }
	}
	// The rival holds the customer, approved first; the forger's registration
	// waits behind it.
	rival := registration("rival", now.Add(-20*day), approved, sealedStanding(keys))
	forger := registration("forger", now.Add(-day), inPhase(v1alpha1.DealQueued, func(s *v1alpha1.DealRegistrationStatus) {
		s.ConflictKey, s.ConflictKeys, s.CanonicalDomain = key, []string{key}, "globex.com"
	}), sealedStanding(keys), func(d *v1alpha1.DealRegistration) { d.Spec.Partner = "forger-partner" })

	lockOf := func(d *v1alpha1.DealRegistration, k *seal.Keys) *v1alpha1.DealLock {
		return &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: LockName(key)}, Spec: LockSpec(d, key, now.Add(-time.Hour), "", k)}
	}
	direct := func(k *seal.Keys) *v1alpha1.DealLock {
		l := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: LockName(key)}, Spec: v1alpha1.DealLockSpec{Program: "global", ConflictKey: key,
			Holder: v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006"}, Since: metav1.NewMicroTime(now.Add(-time.Hour)), Until: &metav1.Time{Time: now.Add(day)}}}
		k.SealLock(&l.Spec)
		return l
	}
	edit := func(l *v1alpha1.DealLock, f func(*v1alpha1.DealLockSpec)) *v1alpha1.DealLock { f(&l.Spec); return l }
	renamed := edit(lockOf(rival, keys), func(s *v1alpha1.DealLockSpec) { s.Holder = HolderOf(forger) })
	older := edit(lockOf(forger, keys), func(s *v1alpha1.DealLockSpec) { s.Since = metav1.NewMicroTime(now.Add(-30 * day)) })
	extended := edit(direct(keys), func(s *v1alpha1.DealLockSpec) { s.Until = &metav1.Time{Time: now.Add(300 * day)} })

	for name, tc := range map[string]struct {
		lock      *v1alpha1.DealLock
		reader    *v1alpha1.DealRegistration
		seals     *seal.Keys
		adopting  bool
		want      LockState
		unsealed  bool
		wantNamed string // the holder's UID the result names; "" for nobody
	}{
		"the holder's sealed lock is its own":                 {lock: lockOf(rival, keys), reader: rival, seals: keys, want: LockMine, wantNamed: "uid-rival"},
		"the holder's sealed lock holds against the others":   {lock: lockOf(rival, keys), reader: forger, seals: keys, want: LockTaken, wantNamed: "uid-rival"},
		"a forged lock is not its named holder's":             {lock: lockOf(forger, nil), reader: forger, seals: keys, want: LockFree, unsealed: true},
		"a forged lock takes nothing from the rival":          {lock: lockOf(forger, nil), reader: rival, seals: keys, want: LockFree, unsealed: true},
		"a lock sealed under another key holds nothing":       {lock: lockOf(forger, other), reader: rival, seals: keys, want: LockFree, unsealed: true},
		"a sealed lock given another holder holds nothing":    {lock: renamed, reader: forger, seals: keys, want: LockFree, unsealed: true},
		"a sealed lock moved back in time holds nothing":      {lock: older, reader: rival, seals: keys, want: LockFree, unsealed: true},
		"the direct team's sealed claim holds":                {lock: direct(keys), reader: rival, seals: keys, want: LockTaken},
		"the direct team's forged claim holds nothing":        {lock: direct(nil), reader: rival, seals: keys, want: LockFree, unsealed: true},
		"a direct claim extended past its seal holds nothing": {lock: extended, reader: rival, seals: keys, want: LockFree, unsealed: true},
		"with sealing off a lock holds as written":            {lock: lockOf(forger, nil), reader: rival, seals: nil, want: LockTaken, wantNamed: "uid-forger"},
		"while adopting a lock without a seal holds":          {lock: lockOf(forger, nil), reader: rival, seals: keys, adopting: true, want: LockTaken, wantNamed: "uid-forger"},
		"while adopting a lock with a bad seal holds nothing": {lock: lockOf(forger, other), reader: rival, seals: keys, adopting: true, want: LockFree, unsealed: true},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.seals != nil {
				tc.seals.SetAdopting(tc.adopting)
				defer tc.seals.SetAdopting(false)
			}
			holder := rival
			if tc.lock.Spec.Holder.UID == string(forger.UID) {
				holder = forger
			}
			l := ReadLock(tc.lock, tc.reader, holder, now, tc.seals)
			if l.State != tc.want || l.Unsealed != tc.unsealed {
				t.Fatalf("state %d (unsealed %v), want %d (unsealed %v)", l.State, l.Unsealed, tc.want, tc.unsealed)
			}
			if tc.want != LockTaken || tc.lock.Spec.Holder.Kind == HolderPartner {
				if l.Holder.UID != tc.wantNamed {
					t.Errorf("names holder %q, want %q", l.Holder.UID, tc.wantNamed)
				}
			}
		})
	}

	// What the engine decides from a forged lock naming the forger's
	// registration, written over the rival's: the rival keeps its protection
	// and takes the lock back; the forger's registration stays in line.
	forged := lockOf(forger, nil)
	r := Evaluate(Input{Now: now, Deal: rival, Partner: partner(resell), Program: program(&v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}),
		Others: []v1alpha1.DealRegistration{*forger}, Lock: ReadLock(forged, rival, forger, now, keys), Seals: keys})
	if r.Status.Phase != v1alpha1.DealApproved || r.Lock != Acquire || !r.Status.ProtectedUntil.Equal(rival.Status.ProtectedUntil) {
		t.Errorf("rival: %s (%s: %s), lock %d, protected until %v; want Approved as it was, taking its lock back",
			r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock, r.Status.ProtectedUntil)
	}
	r = Evaluate(Input{Now: now, Deal: forger, Partner: partner(resell), Program: program(&v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}),
		Others: []v1alpha1.DealRegistration{*rival}, Lock: ReadLock(forged, forger, forger, now, keys), Seals: keys})
	if r.Status.Phase != v1alpha1.DealQueued || r.Lock != Keep {
		t.Errorf("forger: %s (%s: %s), lock %d; want Queued behind the rival, taking nothing", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock)
	}

	// The lock the controller takes is sealed, and its program is its key's.
	spec := LockSpec(rival, key, now, "partners/x-conflict-1", keys)
	if spec.Program != "global" || !keys.LockSealed(&v1alpha1.DealLock{Spec: spec}) {
		t.Errorf("the lock the controller takes: program %q, seal %q does not verify", spec.Program, spec.Seal)
	}
}

// TestAdoptionSealsOnlyTheLocksTheirHoldersConfirm: sealing turned on (or
// a format that seals locks) seals a stored lock without a seal when it is
// the direct team's claim or its holder's own sealed standing names it (the
// holder exists with the lock's UID, has not ended and holds the lock's key);
// any other stays unsealed and holds nothing once adoption ends.
func TestAdoptionSealsOnlyTheLocksTheirHoldersConfirm(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	key := "global/domain:globex.com/sync"
	holding := func(phase v1alpha1.DealPhase, keys ...string) *v1alpha1.DealRegistration {
		return registration("h", now.Add(-time.Hour), inPhase(phase, func(s *v1alpha1.DealRegistrationStatus) { s.ConflictKeys = keys }))
	}
	sealed := func(d *v1alpha1.DealRegistration) *v1alpha1.DealRegistration {
		d.Status.Seal = keys.Sign(seal.Standing(string(d.UID), d.Status)...)
		return d
	}
	lock := func(h v1alpha1.DealHolder) *v1alpha1.DealLock {
		return &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: LockName(key)}, Spec: v1alpha1.DealLockSpec{Program: "global", ConflictKey: key, Holder: h, Since: metav1.NewMicroTime(now)}}
	}
	h := holding(v1alpha1.DealApproved, key)
	for name, tc := range map[string]struct {
		lock   *v1alpha1.DealLock
		holder *v1alpha1.DealRegistration
		want   bool
	}{
		"the direct team's claim":                   {lock(v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006"}), nil, true},
		"an approved holder's sealed standing":      {lock(HolderOf(h)), sealed(holding(v1alpha1.DealApproved, key)), true},
		"a holder under review":                     {lock(HolderOf(h)), sealed(holding(v1alpha1.DealUnderReview, key)), true},
		"a holder whose standing is not sealed":     {lock(HolderOf(h)), holding(v1alpha1.DealApproved, key), false},
		"a holder that does not hold the key":       {lock(HolderOf(h)), sealed(holding(v1alpha1.DealApproved, "global/domain:other.com/sync")), false},
		"a queued registration named as holder":     {lock(HolderOf(h)), sealed(holding(v1alpha1.DealQueued, key)), false},
		"an ended registration":                     {lock(HolderOf(h)), sealed(holding(v1alpha1.DealExpired, key)), false},
		"a holder that is gone":                     {lock(HolderOf(h)), nil, false},
		"another registration of the holder's name": {lock(v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "partners", Name: "h", UID: "uid-old"}), sealed(holding(v1alpha1.DealApproved, key)), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := LockConfirmed(tc.lock, tc.holder, keys); got != tc.want {
				t.Errorf("LockConfirmed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestALockUnderAnotherKeysNameHoldsNothing: a lock's seal covers its key,
// not its name, and a key's lock is read by name (LockName). A sealed lock
// copied past the webhooks under another key's name (its spec and seal as
// they were) would protect its holder on a customer no decision gave it: a
// lock holds only under its own key's name, and reads as free otherwise.
func TestALockUnderAnotherKeysNameHoldsNothing(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	day := 24 * time.Hour
	held, wanted := "global/domain:globex.com/sync", "global/domain:initech.com/sync"
	rival := registration("rival", now.Add(-20*day), inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ConflictKey, s.ConflictKeys, s.CanonicalDomain = held, []string{held}, "globex.com"
	}))
	other := registration("other", now.Add(-day), inPhase(v1alpha1.DealQueued, func(s *v1alpha1.DealRegistrationStatus) {
		s.ConflictKey, s.ConflictKeys, s.CanonicalDomain = wanted, []string{wanted}, "initech.com"
	}))
	direct := v1alpha1.DealLockSpec{Program: "global", ConflictKey: held, Holder: v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006"},
		Since: metav1.NewMicroTime(now.Add(-time.Hour)), Until: &metav1.Time{Time: now.Add(day)}}
	keys.SealLock(&direct)
	for name, tc := range map[string]struct {
		spec   v1alpha1.DealLockSpec
		holder *v1alpha1.DealRegistration
	}{
		"a partner's sealed lock":        {LockSpec(rival, held, now.Add(-time.Hour), "", keys), rival},
		"the direct team's sealed claim": {direct, nil},
	} {
		t.Run(name, func(t *testing.T) {
			own := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: LockName(held)}, Spec: tc.spec}
			if l := ReadLock(own, other, tc.holder, now, keys); l.State != LockTaken {
				t.Fatalf("under its own key's name: state %d, want taken", l.State)
			}
			moved := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: LockName(wanted)}, Spec: tc.spec}
			if l := ReadLock(moved, other, tc.holder, now, keys); l.State != LockFree || !l.Unsealed || l.Holder.UID != "" {
				t.Errorf("under %s's name: state %d (unsealed %v, holder %q), want free, unsealed, naming nobody", wanted, l.State, l.Unsealed, l.Holder.UID)
			}
			keys.SetAdopting(true)
			defer keys.SetAdopting(false)
			unsealed := moved.DeepCopy()
			unsealed.Spec.Seal = ""
			if LockConfirmed(unsealed, tc.holder, keys) {
				t.Errorf("adoption confirms a lock under another key's name")
			}
		})
	}
}

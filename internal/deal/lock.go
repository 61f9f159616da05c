package deal

import (
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// ReadLock is what lock, the DealLock of one of d's keys (nil when there is
// none), says for d: free (no lock, or its holder no longer holds), d's, or
// someone else's. holder is the DealRegistration the lock names (nil when it
// is gone or the holder is the direct team).
//
// A lock grants protection only when its holder is sealed: with sealing on, a
// lock whose seal does not verify (written past the webhooks, naming a holder
// no decision gave) holds nothing, for d or anyone. It reads as free and names
// nobody (Unsealed), so the first registration in line takes it over and no
// registration counts it as a loss. So does a lock stored under another key's
// name (LockHolds).
func ReadLock(lock *v1alpha1.DealLock, d, holder *v1alpha1.DealRegistration, now time.Time, seals *seal.Keys) Lock {
	if lock == nil {
		return Lock{State: LockFree}
	}
	if !LockHolds(lock, seals) {
		return Lock{State: LockFree, Unsealed: true}
	}
	h := lock.Spec.Holder
	l := Lock{State: LockTaken, Holder: h, TakenThrough: lock.Spec.TakenThrough, Since: lock.Spec.Since.Time}
	switch {
	case h.Kind == HolderPartner && h.UID == string(d.UID):
		l.State = LockMine
	case Releases(h, lock.Spec.Until, holder, now):
		l.State = LockFree
	}
	return l
}

// LockHolds reports whether lock may hold anything: it is sealed and stored
// under its own key's name. The seal covers the key, not the name, and a key's
// lock is read by name: a sealed lock copied past the webhooks under another
// key's name would otherwise hold that key for its holder.
func LockHolds(lock *v1alpha1.DealLock, seals *seal.Keys) bool {
	return lock.Name == LockName(lock.Spec.ConflictKey) && seals.LockSealed(lock)
}

// LockSpec is the lock spec d holds key with from now, taken through the
// DealConflict request through (namespace/name; "" for a free key), sealed.
// The program is the key's own (its prefix): a registration's keys are fixed
// when it is decided (HeldKeys), also when its partner moves program.
func LockSpec(d *v1alpha1.DealRegistration, key string, now time.Time, through string, seals *seal.Keys) v1alpha1.DealLockSpec {
	program, _, _ := strings.Cut(key, "/")
	spec := v1alpha1.DealLockSpec{Program: program, ConflictKey: key, Holder: HolderOf(d),
		Since: metav1.NewMicroTime(now.UTC().Truncate(time.Microsecond)), TakenThrough: through}
	seals.SealLock(&spec)
	return spec
}

// LockConfirmed reports whether adoption (sealing turned on, or a seal format
// that seals locks) may seal lock, stored without a seal: the direct team's
// claims, which only the program's CRM integration could write, and a lock
// whose partner holder's own sealed standing confirms it (holder, read from
// the API server, is the registration the lock names, has not ended, and its
// status.conflictKeys hold the lock's key), each stored under its own key's
// name. Any other unsealed lock stays
// unsealed, and reads as free once adoption ends.
func LockConfirmed(lock *v1alpha1.DealLock, holder *v1alpha1.DealRegistration, seals *seal.Keys) bool {
	h := lock.Spec.Holder
	switch {
	case lock.Name != LockName(lock.Spec.ConflictKey):
		return false
	case h.Kind == HolderDirect:
		return true
	case h.Kind != HolderPartner || holder == nil || string(holder.UID) != h.UID:
		return false
	}
	switch holder.Status.Phase {
	case v1alpha1.DealSubmitted, v1alpha1.DealUnderReview, v1alpha1.DealApproved:
	default:
		return false
	}
	return seals.StandingSealed(holder) && slices.Contains(KeysOf(holder), lock.Spec.ConflictKey)
}

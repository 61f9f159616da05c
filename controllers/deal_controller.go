package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
)

const (
	indexConflictKey = "status.conflictKeys" // DealRegistration by each conflict key it holds or waits for
	indexCustomer    = "spec.customer"       // DealRegistration by deal.Identifiers: registrable domain, D-U-N-S, name (with product line)
)

// DealReconciler decides DealRegistrations under their program's rules of
// engagement (internal/deal). The holder of a customer and product line is
// whoever holds its DealLocks, one per identifier of the customer (domain,
// D-U-N-S number): a lock is created, or taken over from a holder that no
// longer holds, with the API server's optimistic concurrency (read uncached
// before it is taken), so exactly one registration holds a key however
// registrations race and whenever the manager crashes. A registration takes
// its keys in their sorted order, all or none.
type DealReconciler struct {
	client.Client
	// APIReader reads locks and their holders uncached before a key is taken.
	APIReader client.Reader
	Clock     clock.PassiveClock
	Recorder  events.EventRecorder
	// Seals verify the review, extension and conflict approvals
	// (effects.Approved); nil when sealing is off.
	Seals *seal.Keys
	// Chain creates the records, each in its partner's chain.
	Chain *Chain

	mu sync.Mutex
	// recorded is, per registration, the UID it had and the sequence up to
	// which this process recorded its transitions: status.recordedSequence
	// advances only with a write made for another reason, and no record is
	// cached, so without it every reconcile would create the records after the
	// marker again (AlreadyExists). One number per registration, not per record.
	recorded map[types.NamespacedName]recordedSeq
}

type recordedSeq struct {
	uid types.UID
	seq int64
}

// recordedUpTo is the sequence up to which d's transitions are known recorded.
func (r *DealReconciler) recordedUpTo(d *v1alpha1.DealRegistration) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.recorded[client.ObjectKeyFromObject(d)]; ok && k.uid == d.UID {
		return max(d.Status.RecordedSequence, k.seq)
	}
	return d.Status.RecordedSequence
}

func (r *DealReconciler) rememberRecorded(d *v1alpha1.DealRegistration, seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recorded == nil {
		r.recorded = map[types.NamespacedName]recordedSeq{}
	}
	r.recorded[client.ObjectKeyFromObject(d)] = recordedSeq{uid: d.UID, seq: seq}
}

func (r *DealReconciler) forgetRecorded(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.recorded, key)
}

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=dealregistrations,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=dealregistrations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=deallocks,verbs=get;list;watch;create;update;delete

// Reconcile evaluates one registration, takes or releases its lock, opens its
// review, and writes its status when it changed.
func (r *DealReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var d v1alpha1.DealRegistration
	if err := r.Get(ctx, req.NamespacedName, &d); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetRecorded(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !d.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	in := deal.Input{Now: now, Deal: &d, Seals: r.Seals}
	var partner v1alpha1.Partner
	err := r.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: d.Spec.Partner}, &partner)
	if apierrors.IsNotFound(err) {
		// The cache may not have a partner created with the registration yet:
		// a registration ends for a missing partner only on what the API server stores.
		err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: d.Spec.Partner}, &partner)
	}
	switch {
	case err == nil:
		in.Partner = &partner
		var program v1alpha1.PartnerProgram
		switch err := r.Get(ctx, types.NamespacedName{Name: partner.Spec.Program}, &program); {
		case err == nil:
			in.Program = &program
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, err
		}
		if partner.Status.Tier != "" {
			var held v1alpha1.PartnerTier
			switch err := r.Get(ctx, types.NamespacedName{Name: partner.Status.Tier}, &held); {
			case err == nil:
				in.Tier = &held
			case !apierrors.IsNotFound(err):
				return ctrl.Result{}, err
			}
		}
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	if d.Status.Outcome != nil && d.Status.Phase != v1alpha1.DealWon && d.Status.Phase != v1alpha1.DealLost {
		// Influenced credit goes to partners of the program only: read the ones claimed.
		for _, inf := range d.Spec.Influencers {
			var p v1alpha1.Partner
			switch err := r.Get(ctx, types.NamespacedName{Namespace: deal.InfluencerNamespace(&d, inf), Name: inf.Partner}, &p); {
			case err == nil:
				in.Influencers = append(in.Influencers, p)
			case !apierrors.IsNotFound(err):
				return ctrl.Result{}, err
			}
		}
	}
	// The keys the registration holds or waits for: fixed once it holds them
	// (deal.HeldKeys), else under the program's rules as they are now.
	keys := deal.KeysOf(&d)
	if in.Program != nil {
		if _, k, err := deal.HeldKeys(&d, in.Program, r.Seals); err == nil {
			keys = k
		}
	}
	others, err := r.related(ctx, &d, in.Program, keys)
	if err != nil {
		return ctrl.Result{}, err
	}
	in.Others = others
	if name := deal.ReviewName(&d); d.Status.Request != "" || d.Status.Phase == v1alpha1.DealUnderReview {
		var q v1alpha1.ExceptionRequest
		switch err := r.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: name}, &q); {
		case err == nil:
			in.Review = &q
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, err
		}
	}
	if d.Spec.ExtensionRequested {
		var q v1alpha1.ExceptionRequest
		switch err := r.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: deal.ExtensionName(&d)}, &q); {
		case err == nil:
			in.Extension = &q
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, err
		}
	}
	if d.Spec.EscalateConflict {
		var q v1alpha1.ExceptionRequest
		switch err := r.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: deal.ConflictName(&d)}, &q); {
		case err == nil:
			in.Conflict = &q
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, err
		}
	}
	var locks []keyLock
	if len(keys) > 0 {
		if locks, in.Lock, err = r.readLocks(ctx, true, &d, keys, now); err != nil {
			return ctrl.Result{}, err
		}
		r.warnUnsealed(&d, locks)
	}

	res := deal.Evaluate(in)
	if res.Lock == deal.TakeOver || res.Lock == deal.Acquire {
		from, through := "", ""
		if res.Lock == deal.TakeOver {
			// An approved conflict takes the keys from the holder it was
			// escalated against, read uncached, and from no other.
			from, through = res.From, d.Namespace+"/"+deal.ConflictName(&d)
			if locks, _, err = r.readLocks(ctx, false, &d, res.Status.ConflictKeys, now); err != nil {
				return ctrl.Result{}, err
			}
		}
		if locks, in.Lock, err = r.acquireAll(ctx, &d, locks, now, from, through); err != nil {
			return ctrl.Result{}, err
		}
		res = deal.Evaluate(in) // with what the locks now say
	}
	if res.OpenReview {
		if err := r.openReview(ctx, &d, in.Partner, in.Program, res.Status.ConflictKey, deal.ReviewName(&d), v1alpha1.RequestDealRegistration, ""); err != nil {
			return ctrl.Result{}, fmt.Errorf("opening the review request: %w", err)
		}
	}
	if res.OpenExtension {
		why := fmt.Sprintf("Extension of deal registration %s's protection, which ends at %s, by %s.",
			d.Name, res.Status.ProtectedUntil.UTC().Format(time.RFC3339), v1alpha1.DealExtensionOf(in.Program))
		if err := r.openReview(ctx, &d, in.Partner, in.Program, res.Status.ConflictKey, deal.ExtensionName(&d), v1alpha1.RequestDealRegistration, why); err != nil {
			return ctrl.Result{}, fmt.Errorf("opening the extension request: %w", err)
		}
	}
	if res.OpenConflict {
		h := res.Status.Conflict.Against
		why := fmt.Sprintf("Conflict over customer %s for %s: partner %s (registration %s, submitted %s) asks for the customer held by partner %s (registration %s/%s). Approving gives it to %s and ends %s's protection.",
			res.Status.CanonicalDomain, d.Spec.ProductLine, d.Spec.Partner, d.Name, submittedText(&d), h.Partner, h.Namespace, h.Name, d.Name, h.Name)
		parties, err := r.conflictParties(ctx, h, in.Others)
		if err != nil {
			return ctrl.Result{}, err
		}
		if err := r.openReview(ctx, &d, in.Partner, in.Program, res.Status.ConflictKey, deal.ConflictName(&d), v1alpha1.RequestDealConflict, why, parties...); err != nil {
			return ctrl.Result{}, fmt.Errorf("opening the conflict request: %w", err)
		}
	}
	// Transitions stored and left unrecorded (a crash between their write and
	// their records, the records store down) are recorded before anything
	// else. status.recordedSequence advances only with a write made for
	// another reason; until then this process remembers what it recorded
	// (recordedUpTo). A decision does not wait for the records store: when the
	// records cannot be made, the marker stays, the decision is written and its
	// effects follow, and the error makes the registration come back until its
	// records are made. Only a decision that would trim an unrecorded
	// transition out of the history kept waits for the records.
	recorded, recordErr := r.record(ctx, &d, &d.Status, in.Program, now)
	if recordErr != nil {
		if dropped := record.DealTransitionsDropped(d.Status.History, res.Status.History, max(d.Status.RecordedSequence, r.recordedUpTo(&d))); len(dropped) > 0 {
			return ctrl.Result{}, fmt.Errorf("recording transitions (the next decision waits: it would trim transitions %v, not recorded yet, out of the history): %w", dropped, recordErr)
		}
		recordErr = fmt.Errorf("recording transitions: %w", recordErr)
	}
	res.Status.RecordedSequence = d.Status.RecordedSequence
	if changed, err := statusChanged(&d.Status, &res.Status, "outcome", "influenceConfirmations"); err != nil {
		return ctrl.Result{}, err
	} else if changed {
		res.Status.RecordedSequence = max(recorded, d.Status.RecordedSequence)
	}
	// status.outcome and status.influenceConfirmations belong to the CRM
	// integration: never compared, never sent.
	written, err := applyStatus(ctx, r.Client, &d, "DealRegistration", &d.Status, &res.Status, "outcome", "influenceConfirmations")
	if err != nil {
		return retryStale(ctrl.Result{}, err)
	}
	if written && len(res.Events) > 0 && recordErr == nil {
		// The transitions are stored: record them now, in the same reconcile.
		if _, err := r.record(ctx, &d, &res.Status, in.Program, now); err != nil {
			recordErr = fmt.Errorf("recording transitions: %w", err)
		}
	}
	if res.Lock == deal.Release || in.Lock.State == deal.LockTaken {
		// After the status that ends the registration is stored: a crash in
		// between leaves a lock whose holder has ended, which the next in line
		// takes over (deal.Releases). A registration another holds one of
		// whose keys holds none of the others either.
		for _, kl := range locks {
			if kl.state.State != deal.LockMine || kl.lock == nil {
				continue
			}
			if err := r.Delete(ctx, kl.lock, client.Preconditions{UID: &kl.lock.UID, ResourceVersion: &kl.lock.ResourceVersion}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
				return ctrl.Result{}, err
			}
		}
	}
	if written {
		for _, w := range res.Warnings {
			r.Recorder.Eventf(&d, nil, eventType(true), w.Reason, "Engage", "%s", w.Message)
		}
		for _, e := range res.Events {
			warning := e.Phase == v1alpha1.DealRejected || e.Phase == v1alpha1.DealExpired
			r.Recorder.Eventf(&d, nil, eventType(warning), e.Reason, "Engage", "%s: %s", e.Phase, e.Message)
			if in.Partner != nil && (e.Reason == v1alpha1.ReasonDealLostHolder || e.Phase == v1alpha1.DealApproved) {
				r.Recorder.Eventf(in.Partner, &d, eventType(warning), e.Reason, "Engage", "deal registration %s: %s", d.Name, e.Message)
			}
		}
	}
	if recordErr != nil {
		return ctrl.Result{}, recordErr
	}
	return requeueAt(now, res.Next), nil
}

// record creates the DecisionRecords of the transitions in st (d's status as
// stored: only what is stored is recorded) after st.recordedSequence that have
// none, and returns the sequence up to which every transition is
// recorded. Only transitions after the marker are created (the manager keeps
// no record in memory), a create refused as AlreadyExists being success; a
// record's name is fixed by its transition, so a crash anywhere records it
// later, once.
// A transition older than the program's record retention counts as recorded:
// its record was made and pruned, and is not made again.
func (r *DealReconciler) record(ctx context.Context, d *v1alpha1.DealRegistration, st *v1alpha1.DealRegistrationStatus, program *v1alpha1.PartnerProgram, now time.Time) (int64, error) {
	name := ""
	if program != nil {
		name = program.Name
	}
	retention := v1alpha1.RecordRetention(program)
	stored := d.DeepCopy()
	stored.Status = *st.DeepCopy()
	stored.Status.RecordedSequence = max(st.RecordedSequence, r.recordedUpTo(d))
	for _, rec := range record.DealTransitions(stored, name, FieldOwner, retention) {
		if now.Before(rec.Spec.RetainUntil.Time) {
			if err := r.Chain.Record(ctx, rec); err != nil {
				return st.RecordedSequence, err
			}
		}
	}
	// Every transition after the marker now has its record.
	recorded := stored.Status.RecordedSequence
	if n := len(st.History); n > 0 {
		recorded = max(recorded, st.History[n-1].Sequence)
	}
	r.rememberRecorded(d, recorded)
	return recorded, nil
}

// related are the registrations that may share a conflict key or the
// customer's name with d (deal.Input.Others): those indexed under one of d's
// keys or under one of the identifiers deal.Candidates gives. A few indexed
// lookups, each answering the handful of registrations of one customer, where
// listing the whole product line made each reconcile O(n) and a product
// line's reconciles O(n²).
func (r *DealReconciler) related(ctx context.Context, d *v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram, keys []string) ([]v1alpha1.DealRegistration, error) {
	var out []v1alpha1.DealRegistration
	seen := map[types.UID]bool{}
	add := func(field, value string) error {
		var list v1alpha1.DealRegistrationList
		// Evaluate only reads them: no deep copy.
		if err := r.List(ctx, &list, client.MatchingFields{field: value}, client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		for i := range list.Items {
			if o := &list.Items[i]; !seen[o.UID] {
				seen[o.UID] = true
				out = append(out, *o)
			}
		}
		return nil
	}
	for _, k := range keys {
		if err := add(indexConflictKey, k); err != nil {
			return nil, err
		}
	}
	for _, v := range deal.Candidates(d, program) {
		if err := add(indexCustomer, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keyLock is one conflict key's lock as read, and what it means for the
// registration that read it.
type keyLock struct {
	key   string
	lock  *v1alpha1.DealLock
	state deal.Lock
}

// readLocks reads the lock of each of keys (in their order), from the cache
// (with readLock's second read) or, uncached, from the API server, and says
// what they mean together (deal.Combine).
func (r *DealReconciler) readLocks(ctx context.Context, cached bool, d *v1alpha1.DealRegistration, keys []string, now time.Time) ([]keyLock, deal.Lock, error) {
	out := make([]keyLock, 0, len(keys))
	states := make([]deal.Lock, 0, len(keys))
	for _, k := range keys {
		var lock *v1alpha1.DealLock
		var state deal.Lock
		var err error
		if cached {
			lock, state, err = r.readLock(ctx, d, k, now)
		} else {
			lock, state, err = r.readLockFrom(ctx, r.APIReader, d, k, now)
		}
		if err != nil {
			return nil, deal.Lock{}, err
		}
		out = append(out, keyLock{key: k, lock: lock, state: state})
		states = append(states, state)
	}
	return out, deal.Combine(states), nil
}

// acquireAll takes every lock of locks (in key order) d does not hold: a
// free one (absent, or its holder no longer holds), and, for an approved
// conflict (from, through), one the holder from holds. All or none: when one
// is held by anyone else as read it takes nothing; when a race for one is
// lost, the locks this call took are given back as they were (a created one
// deleted, a taken-over one restored), and the locks are read again from the
// API server.
func (r *DealReconciler) acquireAll(ctx context.Context, d *v1alpha1.DealRegistration, locks []keyLock, now time.Time, from, through string) ([]keyLock, deal.Lock, error) {
	type took struct {
		stored, prev *v1alpha1.DealLock
	}
	states := make([]deal.Lock, len(locks))
	for i, kl := range locks {
		states[i] = kl.state
		if kl.state.State == deal.LockTaken && (from == "" || kl.state.Holder.UID != from) {
			// Held by someone else: take nothing (an approved conflict takes
			// the customer once nobody but the holder it was decided against
			// holds any of its keys).
			return locks, deal.Combine(states), nil
		}
	}
	var taken []took
	ok := true
	// The free keys first, then those taken from the holder the conflict was
	// decided against, each in key order: a race lost on a free key gives
	// back nothing that holder could have seen taken.
	for _, fromHolder := range []bool{false, true} {
		for i := range locks {
			kl := &locks[i]
			if !ok || kl.state.State == deal.LockMine || (kl.state.State == deal.LockTaken) != fromHolder {
				continue
			}
			via := ""
			if fromHolder {
				if kl.state.Holder.UID != from {
					ok = false // not reached: the scan above took nothing then
					continue
				}
				via = through
			}
			got, created, err := r.acquire(ctx, d, kl.key, kl.lock, now, via)
			if err != nil {
				return nil, deal.Lock{}, err
			}
			if got == nil {
				ok = false
				continue
			}
			t := took{stored: got, prev: kl.lock}
			if created {
				t.prev = nil
			}
			taken = append(taken, t)
		}
	}
	if ok {
		for i := range locks {
			for _, t := range taken {
				if t.stored.Spec.ConflictKey == locks[i].key {
					locks[i].lock = t.stored
				}
			}
			h := locks[i].lock.Spec.Holder
			locks[i].state = deal.Lock{State: deal.LockMine, Holder: h, TakenThrough: locks[i].lock.Spec.TakenThrough, Since: locks[i].lock.Spec.Since.Time}
			states[i] = locks[i].state
		}
		return locks, deal.Combine(states), nil
	}
	for i := len(taken) - 1; i >= 0; i-- {
		t := taken[i]
		var err error
		if t.prev == nil {
			err = r.Delete(ctx, t.stored, client.Preconditions{UID: &t.stored.UID, ResourceVersion: &t.stored.ResourceVersion})
		} else {
			back := t.stored.DeepCopy()
			back.Spec = t.prev.Spec
			err = r.Update(ctx, back)
		}
		if client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return nil, deal.Lock{}, fmt.Errorf("giving back the lock of %s: %w", t.stored.Spec.ConflictKey, err)
		}
	}
	keys := make([]string, len(locks))
	for i := range locks {
		keys[i] = locks[i].key
	}
	return r.readLocks(ctx, false, d, keys, now)
}

// warnUnsealed emits a Warning Event on d for each lock of its keys whose
// seal does not verify: written past the webhooks, it was read as free.
func (r *DealReconciler) warnUnsealed(d *v1alpha1.DealRegistration, locks []keyLock) {
	for _, kl := range locks {
		if !kl.state.Unsealed || kl.lock == nil {
			continue
		}
		h := kl.lock.Spec.Holder
		who := "the direct team (opportunity " + h.Opportunity + ")"
		if h.Kind != deal.HolderDirect {
			who = fmt.Sprintf("registration %s/%s of partner %s", h.Namespace, h.Name, h.Partner)
		}
		r.Recorder.Eventf(d, kl.lock, eventType(true), v1alpha1.ReasonDealUnsealedLock, "Engage",
			"DealLock %s of %s names %s, but its seal does not verify: it was written past the admission webhooks, holds nothing and is read as free", kl.lock.Name, kl.key, who)
	}
}

// readLock reads the lock of key and says what it means for d: free (absent,
// or its holder no longer holds), d's, or someone else's.
func (r *DealReconciler) readLock(ctx context.Context, d *v1alpha1.DealRegistration, key string, now time.Time) (*v1alpha1.DealLock, deal.Lock, error) {
	// The cache answers most reads: no lock, a lock held by this registration
	// or by another that still holds. No lock needs no second read: the
	// registration first in line creates it, and the API server refuses the
	// create if the lock exists after all. A holder that no longer holds is
	// read again from the API server (the cache may not have seen the holder
	// yet), and only for a registration that has not ended, so a queue of
	// registrations waiting for one customer costs no API request per event.
	lock, state, err := r.readLockFrom(ctx, r.Client, d, key, now)
	if err != nil || state.State != deal.LockFree || lock == nil || deal.Final(d.Status.Phase) {
		return lock, state, err
	}
	return r.readLockFrom(ctx, r.APIReader, d, key, now)
}

// readLockFrom reads the lock of key and its holder from reader, and says
// what it means for d (deal.ReadLock: a lock whose seal does not verify holds
// nothing).
func (r *DealReconciler) readLockFrom(ctx context.Context, reader client.Reader, d *v1alpha1.DealRegistration, key string, now time.Time) (*v1alpha1.DealLock, deal.Lock, error) {
	var lock v1alpha1.DealLock
	if err := reader.Get(ctx, types.NamespacedName{Name: deal.LockName(key)}, &lock); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, deal.Lock{State: deal.LockFree}, nil
		}
		return nil, deal.Lock{}, err
	}
	var holder *v1alpha1.DealRegistration
	if h := lock.Spec.Holder; h.Kind == deal.HolderPartner && h.UID != string(d.UID) && deal.LockHolds(&lock, r.Seals) {
		var hd v1alpha1.DealRegistration
		switch err := reader.Get(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, &hd); {
		case err == nil:
			holder = &hd
		case !apierrors.IsNotFound(err):
			return nil, deal.Lock{}, err
		}
	}
	return &lock, deal.ReadLock(&lock, d, holder, now, r.Seals), nil
}

// acquire creates the lock for d, or takes it over from a holder that no longer
// holds, or through an approved DealConflict request (through), from the lock
// as read, with an update carrying the resourceVersion read, and returns the
// lock as stored, and whether it created it (a lock deleted since it was read
// is created). Losing either race is not an error: it returns nil, and the
// caller reads the lock again.
func (r *DealReconciler) acquire(ctx context.Context, d *v1alpha1.DealRegistration, key string, lock *v1alpha1.DealLock, now time.Time, through string) (taken *v1alpha1.DealLock, created bool, err error) {
	spec := deal.LockSpec(d, key, now, through, r.Seals)
	if lock != nil {
		taken = lock.DeepCopy()
		taken.Spec = spec
		err = r.Update(ctx, taken)
		if !apierrors.IsNotFound(err) {
			if apierrors.IsConflict(err) {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, err
			}
			return taken, false, nil
		}
		// Its holder released it (deleted) since it was read: create it.
		spec = deal.LockSpec(d, key, now, "", r.Seals)
	}
	taken = &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: deal.LockName(key)}, Spec: spec}
	err = r.Create(ctx, taken)
	if apierrors.IsAlreadyExists(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return taken, true, nil
}

// openReview opens one of the registration's requests: a DealRegistration
// (review, extension) or DealConflict ExceptionRequest filed on behalf of the
// registrant (so the registrant cannot approve it), with the other side's
// parties (a conflict's holder side, who cannot decide it either), for the
// deal's amount, through the program's path for the type.
func (r *DealReconciler) openReview(ctx context.Context, d *v1alpha1.DealRegistration, partner *v1alpha1.Partner, program *v1alpha1.PartnerProgram, key, name string, typ v1alpha1.RequestType, justification string, parties ...string) error {
	onBehalfOf := ""
	if d.Spec.Registrant != nil {
		onBehalfOf = d.Spec.Registrant.Username
	}
	path := ""
	if rules := program.Spec.DealRegistration; rules != nil {
		path = rules.ReviewPath
		if typ == v1alpha1.RequestDealConflict {
			path = rules.ConflictReviewPath
		}
	}
	amount := d.Spec.Amount
	q := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: name},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type:    typ,
			Partner: partner.Name,
			Justification: fmt.Sprintf("Deal registration %s: partner %s registers %s (%s) for %s, %s %s (%s).",
				d.Name, partner.Name, d.Spec.Customer.Name, strings.TrimPrefix(key, program.Name+"/"), d.Spec.ProductLine, amount.Amount, amount.Currency, d.Spec.Type),
			Amount:     &amount,
			Grant:      &v1alpha1.Grant{Deal: d.Name},
			ReviewPath: path,
			OnBehalfOf: onBehalfOf,
			Parties:    parties,
		},
	}
	if justification != "" {
		q.Spec.Justification = justification
	}
	if err := r.Create(ctx, q); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// SetupWithManager registers the reconciler, its indexes and its watches: a
// registration follows its lock (and every registration waiting for the same
// key follows it too), its partner, its program and its review request.
func (r *DealReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.DealRegistration{}, indexConflictKey, func(o client.Object) []string {
		return deal.KeysOf(o.(*v1alpha1.DealRegistration))
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.DealRegistration{}, indexCustomer, func(o client.Object) []string {
		return deal.Identifiers(o.(*v1alpha1.DealRegistration))
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.DealRegistration{}, indexPartner, func(o client.Object) []string {
		return []string{o.(*v1alpha1.DealRegistration).Spec.Partner}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.DealRegistration{}).
		// Every registration of the same key follows the others' changes:
		// when one ends, the next in line takes the key.
		Watches(&v1alpha1.DealRegistration{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.byKey(ctx, deal.KeysOf(o.(*v1alpha1.DealRegistration))...)
		})).
		Watches(&v1alpha1.DealLock{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.byKey(ctx, o.(*v1alpha1.DealLock).Spec.ConflictKey)
		})).
		Watches(&v1alpha1.Partner{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.list(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexPartner: o.GetName()})
		})).
		Watches(&v1alpha1.PartnerProgram{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return r.list(ctx)
		})).
		Watches(&v1alpha1.ExceptionRequest{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			q := o.(*v1alpha1.ExceptionRequest)
			if (q.Spec.Type != v1alpha1.RequestDealRegistration && q.Spec.Type != v1alpha1.RequestDealConflict) || q.Spec.Grant == nil || q.Spec.Grant.Deal == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.Grant.Deal}}}
		})).
		WithOptions(opts.recorder()).
		Named("dealregistration").
		Complete(r)
}

// byKey lists the registrations waiting for or holding any of keys.
func (r *DealReconciler) byKey(ctx context.Context, keys ...string) []reconcile.Request {
	var out []reconcile.Request
	for _, k := range keys {
		if k == "" {
			continue
		}
		for _, q := range r.list(ctx, client.MatchingFields{indexConflictKey: k}) {
			if !slices.Contains(out, q) {
				out = append(out, q)
			}
		}
	}
	return out
}

func (r *DealReconciler) list(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list v1alpha1.DealRegistrationList
	if err := r.List(ctx, &list, opts...); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

func submittedText(d *v1alpha1.DealRegistration) string {
	if d.Spec.SubmittedAt == nil {
		return d.CreationTimestamp.UTC().Format(time.RFC3339)
	}
	return d.Spec.SubmittedAt.UTC().Format(time.RFC3339Nano)
}

package deal

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/offboarding"
	"github.com/partnergov/partnergov/internal/seal"
)

// Condition types of a DealRegistration.
const (
	// ConditionHeld is True while the registration holds its customer and product line.
	ConditionHeld = "Held"
	// ConditionDuplicateSuspected is True when another open registration names
	// the same customer under another domain: the registration goes to review.
	ConditionDuplicateSuspected = "DuplicateSuspected"
)

// Holder kinds.
const (
	HolderPartner = "Partner"
	HolderDirect  = "Direct"
)

// LockState is what the controller read of the conflict key's DealLock.
type LockState int

const (
	// LockFree: there is no lock, or its holder no longer holds (Releases).
	LockFree LockState = iota
	// LockMine: this registration holds the key.
	LockMine
	// LockTaken: someone else holds the key.
	LockTaken
)

// Lock is a conflict key's lock as read (uncached), or what the locks of all
// of a registration's keys say together (Combine).
type Lock struct {
	State LockState
	// Holder is the current holder for LockTaken (and the last one for LockFree).
	Holder v1alpha1.DealHolder
	// TakenThrough is the DealConflict request (namespace/name) through which
	// the holder took the key from the previous one, if it did.
	TakenThrough string
	// Since is when the current holder took the key (the lock's spec.since):
	// for a registration that lost the key, the moment its protection ended.
	Since time.Time
	// Unsealed: the lock's seal does not verify (ReadLock); it reads as free
	// and names nobody.
	Unsealed bool
}

// Input is everything a registration's evaluation reads.
type Input struct {
	Now  time.Time
	Deal *v1alpha1.DealRegistration
	// Partner is the registering partner; nil when it does not exist.
	Partner *v1alpha1.Partner
	// Program is the partner's program; nil when it does not exist.
	Program *v1alpha1.PartnerProgram
	// Tier is the partner's held tier, nil when it holds none: its
	// entitlements may set the registration's protection.
	Tier *v1alpha1.PartnerTier
	// Others are the other registrations that may share a conflict key or the
	// customer's name with Deal in its product line (any namespace): the queue,
	// the partner's own earlier registration and suspected duplicates are
	// decided from them. More may be given (the whole product line): the
	// rest are ignored.
	Others []v1alpha1.DealRegistration
	// Review is the registration's review request, nil until it exists.
	Review *v1alpha1.ExceptionRequest
	// Extension is the registration's extension request, nil until it exists.
	Extension *v1alpha1.ExceptionRequest
	// Conflict is the registration's DealConflict request, nil until it exists.
	Conflict *v1alpha1.ExceptionRequest
	// Lock is what the locks of the registration's conflict keys say
	// together (Combine).
	Lock Lock
	// Influencers are the Partners spec.influencers names that exist (read
	// when an outcome is reported): influence is credited only to a partner of
	// the registration's program.
	Influencers []v1alpha1.Partner
	// Seals verify the requests' approvals (effects.Approved), the CRM's
	// reports and the stored standing, and seal the new standing; nil when
	// sealing is off.
	Seals *seal.Keys

	// standingUnsealed: Deal's stored standing does not verify.
	standingUnsealed bool
}

// Combine is what the locks of a registration's conflict keys (in key order)
// say together: taken when any key's live holder is someone else (the direct
// team first, then the first such key's holder), the registration's when it
// holds every key, and free otherwise (nothing taken; the keys it lacks are to
// be acquired). A registration holds its customer only with every key.
func Combine(locks []Lock) Lock {
	if len(locks) == 0 {
		return Lock{State: LockFree}
	}
	var taken *Lock
	mine := true
	for i := range locks {
		l := &locks[i]
		switch l.State {
		case LockTaken:
			if taken == nil || (l.Holder.Kind == HolderDirect && taken.Holder.Kind != HolderDirect) {
				taken = l
			}
			mine = false
		case LockFree:
			mine = false
		}
	}
	switch {
	case taken != nil:
		return *taken
	case mine:
		return locks[0]
	}
	// Free: the one whose last holder took it latest, so a registration whose
	// key another took after it and released since sees that (takenFrom).
	var free *Lock
	for i := range locks {
		if l := &locks[i]; l.State == LockFree && (free == nil || l.Since.After(free.Since)) {
			free = l
		}
	}
	if free == nil {
		return Lock{State: LockFree}
	}
	return *free
}

// Action is what the controller does about the lock.
type Action int

const (
	// Keep the lock as it is.
	Keep Action = iota
	// Acquire every key's lock the registration lacks (create it, or take it
	// over from a holder that no longer holds), in key order, all or none,
	// then evaluate again with what the locks say.
	Acquire
	// Release every lock this registration holds.
	Release
	// TakeOver the locks from the live holder whose UID is Result.From, and
	// from no other (free keys are acquired): an approved DealConflict request
	// decided the customer. All or none; then evaluate again with what the
	// locks say.
	TakeOver
)

// Result is the evaluation of a registration.
type Result struct {
	Status v1alpha1.DealRegistrationStatus
	Lock   Action
	// OpenReview asks the controller to open the registration's review request.
	OpenReview bool
	// OpenExtension asks the controller to open its extension request.
	OpenExtension bool
	// OpenConflict asks the controller to open its DealConflict request.
	OpenConflict bool
	// From is the holder (DealRegistration UID) a TakeOver takes the key from.
	From string
	// Next is when the evaluation changes by itself (protection ends).
	Next *time.Time
	// Events are phase changes made by this evaluation, for Events and records.
	Events []v1alpha1.DealEvent
	// Warnings are warning Events about what the rules ignored (an unsealed
	// outcome), emitted once the status is stored.
	Warnings []Warning
}

// Final reports whether a phase is one a registration ends in.
func Final(p v1alpha1.DealPhase) bool {
	switch p {
	case v1alpha1.DealRejected, v1alpha1.DealWon, v1alpha1.DealLost, v1alpha1.DealExpired, v1alpha1.DealWithdrawn:
		return true
	}
	return false
}

// Releases reports whether a holder no longer holds its key: a registration
// that is gone (holderDeal nil, or another object of its name) or ended; a
// direct claim whose until has passed.
func Releases(h v1alpha1.DealHolder, until *metav1.Time, holderDeal *v1alpha1.DealRegistration, now time.Time) bool {
	if h.Kind == HolderDirect {
		return until != nil && !now.Before(until.Time)
	}
	return holderDeal == nil || string(holderDeal.UID) != h.UID || Final(holderDeal.Status.Phase)
}

// HolderOf is the holder a registration writes into the lock.
func HolderOf(d *v1alpha1.DealRegistration) v1alpha1.DealHolder {
	return v1alpha1.DealHolder{Kind: HolderPartner, Namespace: d.Namespace, Name: d.Name, UID: string(d.UID), Partner: d.Spec.Partner}
}

// Key computes a registration's canonical domain and conflict key by domain
// (the first of Keys) under its program's rules.
func Key(d *v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram) (domain, key string, err error) {
	domain, keys, err := Keys(d, program)
	if err != nil {
		return "", "", err
	}
	return domain, keys[0], nil
}

// Keys computes a registration's canonical domain and every conflict key it
// holds together (ConflictKeys), sorted, under its program's rules.
func Keys(d *v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram) (domain string, keys []string, err error) {
	domain, err = CanonicalDomain(d.Spec.Customer.Domain, rules(program))
	if err != nil {
		return "", nil, err
	}
	return domain, ConflictKeys(program.Name, d.Spec.Customer, domain, d.Spec.ProductLine), nil
}

// HeldKeys are a registration's canonical domain and conflict keys. Keys of an
// open registration are fixed when it is decided: an Approved or UnderReview
// registration (it holds its keys) keeps the program and canonical domain its
// sealed standing stores, whatever the program's domainAliases and
// freeMailDomains say since, and a program edit moves no customer it holds
// (its keys are those of that domain and its immutable customer: the stored
// ones, with a D-U-N-S key added if they were stored before there were any).
// Any other registration (new, queued, or one whose stored keys the seal does
// not cover) has its keys computed under the program's rules as they are now
// (Keys).
func HeldKeys(d *v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram, seals *seal.Keys) (domain string, keys []string, err error) {
	if (d.Status.Phase == v1alpha1.DealApproved || d.Status.Phase == v1alpha1.DealUnderReview) &&
		d.Status.CanonicalDomain != "" && len(KeysOf(d)) > 0 && seals.KeysSealed(d) {
		decidedIn, _, _ := strings.Cut(KeysOf(d)[0], "/")
		return d.Status.CanonicalDomain, ConflictKeys(decidedIn, d.Spec.Customer, d.Status.CanonicalDomain, d.Spec.ProductLine), nil
	}
	return Keys(d, program)
}

// KeysOf are the conflict keys a registration's status says it holds or
// waits for: status.conflictKeys, or status.conflictKey as written before
// conflictKeys existed.
func KeysOf(d *v1alpha1.DealRegistration) []string {
	if len(d.Status.ConflictKeys) > 0 {
		return d.Status.ConflictKeys
	}
	if d.Status.ConflictKey != "" {
		return []string{d.Status.ConflictKey}
	}
	return nil
}

// sharesKey reports whether any of keys is one of b.
func sharesKey(a, b []string) bool {
	for _, k := range a {
		if slices.Contains(b, k) {
			return true
		}
	}
	return false
}

func rules(p *v1alpha1.PartnerProgram) *v1alpha1.DealRegistrationRules {
	if p == nil {
		return nil
	}
	return p.Spec.DealRegistration
}

// MissingEntitlement names what partner p lacks to register a deal of type t
// for segment, "" when it has it: Resale needs Resell, CoSell needs CoSell for
// the customer's segment, Referral needs no entitlement. A suspended partner
// may hold and register nothing, of any type.
func MissingEntitlement(p *v1alpha1.Partner, t v1alpha1.DealType, segment string) string {
	var need v1alpha1.EntitlementName
	switch t {
	case v1alpha1.DealResale:
		need = v1alpha1.EntitlementResell
	case v1alpha1.DealCoSell:
		need = v1alpha1.EntitlementCoSell
	}
	what := string(need)
	if need == v1alpha1.EntitlementCoSell {
		what = fmt.Sprintf("CoSell for segment %q", segment)
	}
	if p.Spec.Suspended {
		if need == "" {
			return fmt.Sprintf("the right to register a %s deal (the partner is suspended)", t)
		}
		return what + " (the partner is suspended)"
	}
	if need == "" {
		return ""
	}
	for _, e := range p.Status.Entitlements {
		if e.Name != need {
			continue
		}
		if need != v1alpha1.EntitlementCoSell || (segment != "" && slices.Contains(e.Segments, segment)) {
			return ""
		}
	}
	return what
}

// Evaluate decides a registration's standing. It never takes the key itself:
// when the registration is first in line for a free key it asks the controller
// to Acquire, and the controller evaluates again with what the lock then says.
// A registration that has not ended is evaluated again when its partner's
// offboarding takes effect, which withdraws it.
func Evaluate(in Input) Result {
	stored := in.Deal
	unsealed := ""
	in.Deal, unsealed = sealedView(in.Deal, in.Seals)
	if in.standingUnsealed = !in.Seals.StandingSealed(stored); in.standingUnsealed {
		unsealed = strings.TrimPrefix(unsealed+"; ", "; ") + fmt.Sprintf("the decided standing (phase %s) is not sealed: written past the admission webhooks, it gives nothing", stored.Status.Phase)
	}
	res := evaluate(in)
	// The CRM's fields are stored as they are: the controller never writes them.
	res.Status.Outcome = stored.Status.Outcome.DeepCopy()
	res.Status.InfluenceConfirmations = slices.Clone(stored.Status.InfluenceConfirmations)
	res.markUnsealed(stored, unsealed, in.standingUnsealed, in.Now)
	// The controller seals the standing it decided.
	res.Status.Seal = in.Seals.Sign(seal.Standing(string(stored.UID), res.Status)...)
	if !Final(res.Status.Phase) {
		if t := offboarding.Deadline(in.Partner, in.Now); t != nil && (res.Next == nil || t.Before(*res.Next)) {
			res.Next = t
		}
	}
	return res
}

func evaluate(in Input) Result {
	in.Lock = seenFrom(in)
	d := in.Deal
	st := *d.Status.DeepCopy()
	st.ObservedGeneration = d.Generation
	res := &Result{}
	now := metav1.NewTime(in.Now.UTC().Truncate(time.Second))
	held := in.Lock.State == LockMine
	if held {
		st.Holder = nil
	}
	move := func(phase v1alpha1.DealPhase, reason, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if st.Phase != phase || st.Reason != reason {
			seq := st.RecordedSequence + 1
			if n := len(st.History); n > 0 && st.History[n-1].Sequence >= seq {
				seq = st.History[n-1].Sequence + 1
			}
			ev := v1alpha1.DealEvent{Sequence: seq, Time: now, Phase: phase, Reason: reason, Message: clip(msg)}
			st.History = append(st.History, ev)
			if n := len(st.History) - v1alpha1.MaxDealHistory; n > 0 {
				st.History = st.History[n:]
			}
			res.Events = append(res.Events, ev)
		}
		st.Phase, st.Reason, st.Message = phase, reason, clip(msg)
	}
	end := func(phase v1alpha1.DealPhase, reason, format string, args ...any) Result {
		move(phase, reason, format, args...)
		res.Lock = Release
		return res.finish(st, now, false)
	}
	if in.standingUnsealed && (st.Phase == v1alpha1.DealApproved || st.Phase == v1alpha1.DealWon) {
		// The stored standing was written past the webhooks: the approval,
		// protection and credit it claims give nothing. The registration ends
		// with an empty protection (approvedAt = protectedUntil = now, values
		// rather than absent fields, so they replace what was written), so no
		// close is credited to it; its attribution stays inert (credit needs
		// Won). Any other unsealed phase grants nothing and is decided again
		// from the sealed requests and the locks.
		was := st.Phase
		st.ApprovedAt, st.ProtectedUntil = now.DeepCopy(), now.DeepCopy()
		return end(v1alpha1.DealExpired, v1alpha1.ReasonDealUnsealedStanding,
			"the stored standing (phase %s) is not sealed: it was written past the admission webhooks and gives no protection or credit; the registration ends and the customer goes to the next registration in line", was)
	}
	if st.Phase == v1alpha1.DealExpired && d.Status.Outcome != nil {
		// A registration expires when it loses its customer, if not before:
		// protection ended no later than that (also for one expired before a
		// loss moved protectedUntil).
		for i := len(st.History) - 1; i >= 0; i-- {
			if st.History[i].Phase == v1alpha1.DealExpired {
				endProtection(&st, st.History[i].Time.Time)
				break
			}
		}
	}

	if Final(st.Phase) && !(st.Phase == v1alpha1.DealExpired && d.Status.Outcome != nil && ProtectedAt(st, d.Status.Outcome.ClosedAt.Time)) {
		res.Lock = Release
		return res.finish(st, now, false)
	}
	// lose ends an open registration that lost its customer at the moment at:
	// its protection ends then, so a close after it earns no credit.
	lose := func(at time.Time, reason, format string, args ...any) Result {
		if endProtection(&st, at) {
			format += "; protection ended at %s: a deal closed after it earns no sourced credit"
			args = append(args, st.ProtectedUntil.UTC().Format(time.RFC3339))
		}
		return end(v1alpha1.DealExpired, reason, format, args...)
	}
	open := st.Phase == v1alpha1.DealApproved || st.Phase == v1alpha1.DealUnderReview
	// lostKey ends an open registration whose key another holder took.
	lostKey := func(domain string) Result {
		h := in.Lock.Holder
		st.Holder = &h
		switch {
		case h.Kind == HolderDirect:
			return lose(lossAt(in), v1alpha1.ReasonDealDirectEngaged, "the direct team now holds customer %s for %s (opportunity %s)", domain, d.Spec.ProductLine, h.Opportunity)
		case in.Lock.TakenThrough != "":
			return lose(lossAt(in), v1alpha1.ReasonDealConflictLost, "conflict request %s gave customer %s for %s to registration %s/%s of partner %s: this registration's protection ended",
				in.Lock.TakenThrough, domain, d.Spec.ProductLine, h.Namespace, h.Name, h.Partner)
		case in.Lock.State == LockFree:
			return lose(lossAt(in), v1alpha1.ReasonDealLostHolder, "registration %s/%s of partner %s took customer %s for %s from this one (and no longer holds it)",
				h.Namespace, h.Name, h.Partner, domain, d.Spec.ProductLine)
		default: // the key was taken from us: only when we had ended, so end now
			return lose(lossAt(in), v1alpha1.ReasonDealLostHolder, "registration %s/%s of partner %s now holds customer %s for %s", h.Namespace, h.Name, h.Partner, domain, d.Spec.ProductLine)
		}
	}
	// suspended ends an open registration of a suspended partner, of any type,
	// and rejects any other.
	suspended := func(domain string, at time.Time) Result {
		state := "is suspended"
		if !in.Partner.Spec.Suspended {
			state = "was suspended at " + at.UTC().Format(time.RFC3339) + " (lifted since)"
		}
		if open {
			return lose(at, v1alpha1.ReasonDealLostHolder, "partner %s %s: its protection ended at once and customer %s for %s goes to the next registration in line",
				in.Partner.Name, state, domain, d.Spec.ProductLine)
		}
		return end(v1alpha1.DealRejected, v1alpha1.ReasonDealNotEntitled, "partner %s %s: it registers no deal, of any type, until the suspension ends", in.Partner.Name, state)
	}

	if d.Spec.Withdrawn {
		return end(v1alpha1.DealWithdrawn, "Withdrawn", "withdrawn by the partner; the customer goes to the next registration in line")
	}
	if in.Partner == nil || (d.Spec.PartnerUID != "" && d.Spec.PartnerUID != string(in.Partner.UID)) {
		return end(v1alpha1.DealWithdrawn, v1alpha1.ReasonPartnerNotFound, "partner %s no longer exists", d.Spec.Partner)
	}
	if in.Partner.OffboardingEffective(in.Now) && !closedBefore(d.Status.Outcome, in.Partner.Spec.Offboarding.Effective.Time) {
		// The offboarding releases the customer, whatever the registration's
		// standing; a deal the CRM reports closed before it is still decided below.
		return end(v1alpha1.DealWithdrawn, v1alpha1.ReasonPartnerOffboarded, "%s: its deal protection is released and the customer goes to the next registration in line",
			offboarding.Describe(in.Partner))
	}
	if in.Program == nil {
		// Nothing is decided without the rules, but protection still ends: on
		// time, when another holder takes the key, when the partner is suspended.
		if at, ok := suspendedSince(in); open && ok {
			return suspended(st.CanonicalDomain, at)
		}
		if open && takenFrom(in.Lock, d) {
			return lostKey(st.CanonicalDomain)
		}
		if st.Phase == v1alpha1.DealApproved && st.ProtectedUntil != nil && !in.Now.Before(st.ProtectedUntil.Time) {
			return end(v1alpha1.DealExpired, v1alpha1.ReasonDealProtectionEnd, "protection ended at %s without a reported outcome (program %s of partner %s does not exist, so no extension is decided); the customer goes to the next registration in line",
				st.ProtectedUntil.UTC().Format(time.RFC3339), in.Partner.Spec.Program, in.Partner.Name)
		}
		if q := in.Review; st.Phase == v1alpha1.DealUnderReview && q != nil &&
			(q.Status.Phase == v1alpha1.PhaseDenied || q.Status.Phase == v1alpha1.PhaseExpired || q.Status.Phase == v1alpha1.PhaseWithdrawn) {
			// A registration under review holds its key only while the review
			// runs: a review that ended unapproved releases it, program or not.
			return end(v1alpha1.DealRejected, v1alpha1.ReasonDealReviewDenied, "review request %s ended %s: %s (program %s of partner %s does not exist); the customer goes to the next registration in line",
				q.Name, q.Status.Phase, lastMessage(q), in.Partner.Spec.Program, in.Partner.Name)
		}
		if st.Phase == "" {
			move(v1alpha1.DealSubmitted, v1alpha1.ReasonProgramNotFound, "program %s of partner %s does not exist", in.Partner.Spec.Program, in.Partner.Name)
		}
		out := res.finish(st, now, held) // an approved registration comes back when its protection ends
		conditions.Set(&out.Status.Conditions, d.Generation, now, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonProgramNotFound,
			fmt.Sprintf("program %s of partner %s does not exist", in.Partner.Spec.Program, in.Partner.Name))
		return out
	}
	if at, lost := lossOf(in, open); lost && d.Status.Outcome != nil {
		// A close is judged by the protection actually held: it ended when the
		// registration lost its customer, whenever the loss is seen.
		endProtection(&st, at)
	}
	if o := d.Status.Outcome; o != nil {
		phase := v1alpha1.DealWon
		if o.Result == v1alpha1.DealResultLost {
			phase = v1alpha1.DealLost
		}
		if !ProtectedAt(st, o.ClosedAt.Time) {
			st.Attribution = nil
			return end(phase, "ClosedWithoutProtection", "the CRM reports the deal %s at %s, outside this registration's protection (%s): it earns no credit",
				o.Result, o.ClosedAt.UTC().Format(time.RFC3339), protectionText(st))
		}
		if phase == v1alpha1.DealLost {
			return end(phase, "Lost", "the CRM reports the deal lost at %s", o.ClosedAt.UTC().Format(time.RFC3339))
		}
		st.Attribution = Attribute(d, in.Program, in.Influencers)
		return end(phase, "Won", "the CRM reports the deal won at %s for %s %s: sourced credit to %s%s", o.ClosedAt.UTC().Format(time.RFC3339),
			o.Amount.Amount, o.Amount.Currency, d.Spec.Partner, influencedNote(st.Attribution))
	}
	domain, keys, err := HeldKeys(d, in.Program, in.Seals)
	if err != nil {
		return end(v1alpha1.DealRejected, v1alpha1.ReasonDealIneligible, "spec.customer.domain: %v", err)
	}
	st.CanonicalDomain, st.ConflictKey, st.ConflictKeys, st.Lock = domain, keys[0], keys, LockName(keys[0])
	if at, ok := suspendedSince(in); ok {
		return suspended(domain, at)
	}
	if missing := MissingEntitlement(in.Partner, d.Spec.Type, d.Spec.Customer.Segment); missing != "" {
		if in.Partner.Status.ObservedGeneration == 0 && !in.Partner.Spec.Suspended {
			// The partner's entitlements are not computed yet: wait for them.
			if st.Phase == "" {
				move(v1alpha1.DealSubmitted, "PartnerNotEvaluated", "partner %s's tier and entitlements are not computed yet", in.Partner.Name)
			}
			return res.finish(st, now, held)
		}
		if open {
			return lose(in.Now, v1alpha1.ReasonDealLostHolder,
				"partner %s no longer has the %s entitlement a %s registration needs: its protection ended at once", in.Partner.Name, missing, d.Spec.Type)
		}
		return end(v1alpha1.DealRejected, v1alpha1.ReasonDealNotEntitled, "a %s registration needs the %s entitlement, which partner %s does not have", d.Spec.Type, missing, in.Partner.Name)
	}
	if why := ineligible(d, rules(in.Program)); why != "" && !open {
		return end(v1alpha1.DealRejected, v1alpha1.ReasonDealIneligible, "%s", why)
	}
	if a := reserved(d, domain, rules(in.Program)); a != nil && !open {
		note := ""
		if a.Note != "" {
			note = ": " + a.Note
		}
		return end(v1alpha1.DealRejected, v1alpha1.ReasonDealReserved, "customer %s is a reserved account of the program for %s, which only the direct team holds%s",
			domain, d.Spec.ProductLine, note)
	}
	if o := ownEarlier(d, keys, in.Others); o != nil && !open {
		return end(v1alpha1.DealRejected, v1alpha1.ReasonDealDuplicate, "partner %s already registered customer %s for %s in registration %s (phase %s): one registration per partner, customer and product line",
			d.Spec.Partner, domain, d.Spec.ProductLine, o.Name, dash(string(o.Status.Phase)))
	}
	stalled := false // the extension request is not being decided
	if st.Phase == v1alpha1.DealApproved && st.ProtectedUntil != nil && d.Spec.ExtensionRequested && (st.Extension == nil || st.Extension.Result == "") {
		// The one extension: asked for, then decided through its request.
		name := ExtensionName(d)
		st.Extension = &v1alpha1.DealExtension{Request: name}
		switch q := in.Extension; {
		case q == nil || (q.Status.Phase == "" || q.Status.Phase == v1alpha1.PhasePending) && !heldBehindRecords(q):
			// Under review (or about to be): protection holds until it is decided.
		case effects.Unexplained(q, in.Seals) || heldBehindRecords(q):
			// Approved with no sealed decision explaining it (final: no SLA
			// ends it), or held as its status is behind its records (its SLA
			// frozen): it is not being decided, and holds nothing past
			// protectedUntil. It stays undecided (no result).
			stalled = true
		case effects.Approved(q, in.Seals):
			at := in.Now
			if t := effects.ApprovedAt(q, in.Seals); t != nil {
				at = *t
			}
			from := st.ProtectedUntil.Time
			if at.After(from) {
				from = at
			}
			until := metav1.NewTime(from.Add(v1alpha1.DealExtensionOf(in.Program)).UTC())
			st.ProtectedUntil, st.Extension.Result = &until, "Approved"
			move(v1alpha1.DealApproved, "Extended", "extension approved through request %s: customer %s for %s is protected until %s", name, domain, d.Spec.ProductLine, until.Format(time.RFC3339))
		default:
			st.Extension.Result = "Denied"
			move(v1alpha1.DealApproved, "ExtensionDenied", "extension request %s ended %s; protection ends at %s", name, q.Status.Phase, st.ProtectedUntil.UTC().Format(time.RFC3339))
		}
	}
	if st.Phase == v1alpha1.DealApproved && st.ProtectedUntil != nil && !in.Now.Before(st.ProtectedUntil.Time) &&
		(st.Extension == nil || st.Extension.Result != "" || stalled) {
		return end(v1alpha1.DealExpired, v1alpha1.ReasonDealProtectionEnd, "protection ended at %s without a reported outcome; the customer goes to the next registration in line",
			st.ProtectedUntil.UTC().Format(time.RFC3339))
	}
	st.Duplicates = duplicates(d, keys, in.Others)
	suspected := slices.ContainsFunc(st.Duplicates, func(m v1alpha1.DuplicateMatch) bool { return m.MatchedOn == "CustomerName" })
	if suspected {
		conditions.Set(&st.Conditions, d.Generation, now, ConditionDuplicateSuspected, metav1.ConditionTrue, "SameCustomerName",
			fmt.Sprintf("another open registration names customer %q under another domain; this one is reviewed, not approved automatically", d.Spec.Customer.Name))
	} else {
		conditions.Set(&st.Conditions, d.Generation, now, ConditionDuplicateSuspected, metav1.ConditionFalse, "NoSuspectedDuplicate", "no other open registration names this customer under another domain")
	}

	switch in.Lock.State {
	case LockTaken:
		h := in.Lock.Holder
		st.Holder = &h
		if open {
			return lostKey(domain)
		}
		if h.Kind == HolderDirect {
			return end(v1alpha1.DealRejected, v1alpha1.ReasonDealDirectEngaged, "the direct team already works customer %s for %s (opportunity %s)", domain, d.Spec.ProductLine, dash(h.Opportunity))
		}
		if d.Spec.EscalateConflict && (st.Conflict == nil || st.Conflict.Result == "") {
			return escalate(in, res, &st, now, move, h, domain)
		}
		reason, tail := v1alpha1.ReasonDealHeld, "this one is next in submission order when its protection ends"
		if c := st.Conflict; c != nil && c.Result == "Denied" {
			reason, tail = "ConflictDenied", fmt.Sprintf("conflict request %s was decided for the holder, and this one stays in line", c.Request)
		}
		move(v1alpha1.DealQueued, reason, "registration %s/%s of partner %s holds customer %s for %s; %s",
			h.Namespace, h.Name, h.Partner, domain, d.Spec.ProductLine, tail)
		return res.finish(st, now, false)
	case LockFree:
		if open && takenFrom(in.Lock, d) {
			// Another holder took the key after this one and released it since:
			// the customer was lost then, and is not taken back.
			return lostKey(domain)
		}
		if open { // it held the key and the lock went (deleted by hand): take it back
			res.Lock = Acquire
			return res.finish(st, now, false)
		}
		if ahead := aheadInLine(d, keys, in.Others, in.Program); ahead != nil && !conflictApproved(in, st) {
			move(v1alpha1.DealQueued, v1alpha1.ReasonDealHeld, "registration %s/%s of partner %s was submitted earlier for customer %s and %s and is first in line",
				ahead.Namespace, ahead.Name, ahead.Spec.Partner, domain, d.Spec.ProductLine)
			return res.finish(st, now, false)
		}
		if settled := submitted(d).Add(Settle); in.Now.Before(settled) && !conflictApproved(in, st) {
			// First come is by submittedAt: a registration takes a free key only
			// once every registration submitted before it has had Settle to reach
			// the cache, so a later one seen first does not take the key from an
			// earlier one. Nothing is written meanwhile.
			return Result{Status: *d.Status.DeepCopy(), Next: &settled}
		}
		if st.Phase == "" {
			move(v1alpha1.DealSubmitted, "Submitted", "registered; taking customer %s for %s", domain, d.Spec.ProductLine)
		}
		res.Lock = Acquire
		return res.finish(st, now, false)
	}

	// The registration holds the key.
	protection := Protection(in.Program, in.Tier)
	approve := func(at time.Time, reason, message string) {
		if in.Lock.Since.After(at) {
			// Protection begins no earlier than the registration took the key:
			// the protections of one key never overlap, so a close is credited to one.
			at = in.Lock.Since
		}
		until := metav1.NewTime(at.Add(protection).UTC())
		approvedAt := metav1.NewTime(at.UTC())
		st.ApprovedAt, st.ProtectedUntil = &approvedAt, &until
		move(v1alpha1.DealApproved, reason, "%s; customer %s for %s is protected until %s", message, domain, d.Spec.ProductLine, until.Format(time.RFC3339))
	}
	switch st.Phase {
	case v1alpha1.DealApproved:
		if st.Extension != nil && st.Extension.Result == "" && in.Extension == nil {
			res.OpenExtension = true
		}
	case v1alpha1.DealUnderReview:
		switch q := in.Review; {
		case q == nil:
			res.OpenReview = true
		case effects.Approved(q, in.Seals):
			at := in.Now
			if t := effects.ApprovedAt(q, in.Seals); t != nil {
				at = *t
			}
			approve(at, v1alpha1.ReasonDealReviewed, fmt.Sprintf("approved through review request %s", q.Name))
		case q.Status.Phase == v1alpha1.PhaseDenied || q.Status.Phase == v1alpha1.PhaseExpired || q.Status.Phase == v1alpha1.PhaseWithdrawn:
			return end(v1alpha1.DealRejected, v1alpha1.ReasonDealReviewDenied, "review request %s ended %s: %s", q.Name, q.Status.Phase, lastMessage(q))
		}
	default: // Submitted or Queued, and the key just taken
		if conflictApproved(in, st) {
			st.Conflict.Result = "Approved"
			at := in.Now
			if t := effects.ApprovedAt(in.Conflict, in.Seals); t != nil {
				at = *t
			}
			approve(at, v1alpha1.ReasonDealConflictWon, fmt.Sprintf("conflict request %s gave this registration the customer ahead of registration %s/%s",
				in.Conflict.Name, st.Conflict.Against.Namespace, st.Conflict.Against.Name))
		} else if why := autoApproval(in, suspected); why != "" {
			if c := st.Conflict; c != nil && c.Result == "" {
				c.Result = "Superseded" // it took the customer in turn
			}
			approve(in.Now, v1alpha1.ReasonDealAutoApproved, "approved at submission: "+why)
		} else {
			if c := st.Conflict; c != nil && c.Result == "" {
				c.Result = "Superseded"
			}
			st.Request = ReviewName(d)
			move(v1alpha1.DealUnderReview, "Review", "holds customer %s for %s while review request %s is decided", domain, d.Spec.ProductLine, st.Request)
			res.OpenReview = in.Review == nil
		}
	}
	return res.finish(st, now, true)
}

// lossAt is when an open registration lost its key to the lock's holder (that
// holds it, or held it since): when that holder took it, as the lock says, or
// now when it does not say.
func lossAt(in Input) time.Time {
	if s := in.Lock.Since; in.Lock.State != LockMine && !s.IsZero() && s.Before(in.Now) {
		return s
	}
	return in.Now
}

// seenFrom completes what a free lock says with the registrations of the same
// keys: a lock deleted by its last holder's release names nobody, yet a
// registration approved for one of d's keys after d was took the customer from
// d then (one holder at a time), whether or not d saw it happen. The earliest
// such approval is the loss, unless the lock names an earlier taker itself; a
// lock held now by a later taker says when d lost it the same way.
func seenFrom(in Input) Lock {
	l, d := in.Lock, in.Deal
	if l.State == LockMine || d.Status.ApprovedAt == nil || Final(d.Status.Phase) {
		return l
	}
	keys := KeysOf(d)
	var first *v1alpha1.DealRegistration
	for i := range in.Others {
		o := &in.Others[i]
		a := o.Status.ApprovedAt
		if o.UID == d.UID || a == nil || !a.After(d.Status.ApprovedAt.Time) || !sharesKey(KeysOf(o), keys) {
			continue
		}
		if first == nil || a.Before(first.Status.ApprovedAt) {
			first = o
		}
	}
	if first == nil || (l.Holder.Kind != "" && l.Since.After(d.Status.ApprovedAt.Time) && !l.Since.After(first.Status.ApprovedAt.Time)) {
		return l
	}
	if l.State == LockTaken { // held by a later taker: d lost it at the first one's approval
		l.Since = first.Status.ApprovedAt.Time
		return l
	}
	through := ""
	if c := first.Status.Conflict; c != nil && c.Result == "Approved" {
		through = first.Namespace + "/" + c.Request
	}
	return Lock{State: LockFree, Holder: HolderOf(first), Since: first.Status.ApprovedAt.Time, TakenThrough: through}
}

// takenFrom reports whether another holder took one of registration d's keys
// after d had it: it holds the key now, or took it after d's approval and has
// released it since (a lock deleted by hand says nothing, and a last holder
// that held the key before d was approved, or a key d never held, took nothing
// from d).
func takenFrom(l Lock, d *v1alpha1.DealRegistration) bool {
	if l.State == LockTaken {
		return true
	}
	if l.State != LockFree || l.Holder.Kind == "" || l.Holder.UID == string(d.UID) {
		return false
	}
	if a := d.Status.ApprovedAt; a != nil {
		return l.Since.After(a.Time)
	}
	return false
}

// lossOf reports whether an open registration has lost its customer, and
// when: another holder took its key (and may have released it since), or its partner is suspended or lacks the
// entitlement the registration needs (seen now).
func lossOf(in Input, open bool) (time.Time, bool) {
	switch {
	case !open:
		return time.Time{}, false
	case in.Lock.State == LockTaken:
		return lossAt(in), true
	case takenFrom(in.Lock, in.Deal):
		return lossAt(in), true
	case suspensionReaches(in):
		at, _ := suspendedSince(in)
		return at, true
	case in.Partner.Status.ObservedGeneration != 0 && MissingEntitlement(in.Partner, in.Deal.Spec.Type, in.Deal.Spec.Customer.Segment) != "":
		return in.Now, true
	}
	return time.Time{}, false
}

// suspendedSince reports whether the partner's suspension reaches the
// registration, and from when: the partner is suspended now (since
// spec.suspendedAt, the server's record of when it began, or now without
// one), or it was suspended after the registration was submitted and the
// suspension was lifted before the controller saw it.
func suspendedSince(in Input) (time.Time, bool) {
	p := in.Partner
	at := p.Spec.SuspendedAt
	switch {
	case p.Spec.Suspended && at != nil && at.Time.Before(in.Now):
		return at.Time, true
	case p.Spec.Suspended:
		return in.Now, true
	case at != nil && !at.Time.Before(submitted(in.Deal)) && at.Time.Before(in.Now):
		return at.Time, true
	}
	return time.Time{}, false
}

func suspensionReaches(in Input) bool { _, ok := suspendedSince(in); return ok }

// endProtection ends st's protection at the moment at (to the second, as it is
// stored), never before it began; a protection that ended earlier, or never
// began, is left as it is. It reports whether it moved protectedUntil.
func endProtection(st *v1alpha1.DealRegistrationStatus, at time.Time) bool {
	if st.ApprovedAt == nil || st.ProtectedUntil == nil {
		return false
	}
	at = at.UTC().Truncate(time.Second)
	if at.Before(st.ApprovedAt.Time) {
		at = st.ApprovedAt.Time
	}
	if !at.Before(st.ProtectedUntil.Time) {
		return false
	}
	until := metav1.NewTime(at)
	st.ProtectedUntil = &until
	return true
}

// sealedView is d as the rules read it: with sealing on, an outcome or an
// influence confirmation whose seal does not verify (written past the
// webhook that stamps and seals who reported it) is not there. It returns
// what was left out, for people ("" when nothing was).
func sealedView(d *v1alpha1.DealRegistration, seals *seal.Keys) (*v1alpha1.DealRegistration, string) {
	var left []string
	o := d.Status.Outcome
	if o != nil && !seals.OutcomeSealed(d) {
		left = append(left, fmt.Sprintf("status.outcome (%s at %s, reportedBy %q)", o.Result, o.ClosedAt.UTC().Format(time.RFC3339), o.ReportedBy))
		o = nil
	}
	var confirmed []v1alpha1.InfluenceConfirmation
	for _, c := range d.Status.InfluenceConfirmations {
		if seals.ConfirmationSealed(d, c) {
			confirmed = append(confirmed, c)
		} else {
			left = append(left, fmt.Sprintf("the influence confirmation of %s (confirmedBy %q)", c.Partner, c.ConfirmedBy))
		}
	}
	if len(left) == 0 {
		return d, ""
	}
	view := *d
	view.Status = *d.Status.DeepCopy()
	view.Status.Outcome, view.Status.InfluenceConfirmations = o, confirmed
	return &view, fmt.Sprintf("not sealed, so written past the admission webhook that stamps the CRM integration's reports, and ignored: %s", strings.Join(left, "; "))
}

// markUnsealed sets the OutcomeSealed condition: False (UnsealedOutcome) while
// stored's outcome or an influence confirmation is not sealed (unsealed says
// which), with a warning Event when it becomes so; True again once everything
// is sealed (or reported again). A registration that never had an unsealed
// report gets no condition.
func (r *Result) markUnsealed(stored *v1alpha1.DealRegistration, unsealed string, standing bool, at time.Time) {
	reason := v1alpha1.ReasonUnsealedOutcome
	if standing {
		reason = v1alpha1.ReasonDealUnsealedStanding
	}
	st := &r.Status
	now := metav1.NewTime(at.UTC().Truncate(time.Second))
	was := meta.FindStatusCondition(stored.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
	if unsealed == "" {
		// A registration ended for its unsealed standing keeps saying why.
		if st.Reason != v1alpha1.ReasonDealUnsealedStanding && meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionOutcomeSealed) != nil {
			conditions.Set(&st.Conditions, st.ObservedGeneration, now, v1alpha1.ConditionOutcomeSealed, metav1.ConditionTrue, ReasonSealed,
				"the outcome and influence confirmations are sealed")
		}
		return
	}
	if was == nil || was.Status != metav1.ConditionFalse || was.Message != clip(unsealed) {
		r.Warnings = append(r.Warnings, Warning{Reason: reason, Message: clip(unsealed)})
	}
	conditions.Set(&st.Conditions, st.ObservedGeneration, now, v1alpha1.ConditionOutcomeSealed, metav1.ConditionFalse, reason, clip(unsealed))
}

// ReasonSealed: everything the CRM reported on the registration is sealed.
const ReasonSealed = "Sealed"

// Warning is a warning Event the controller emits once the status is stored.
type Warning struct {
	Reason, Message string
}

// closedBefore reports whether outcome o closed the deal before t.
func closedBefore(o *v1alpha1.DealOutcome, t time.Time) bool {
	return o != nil && o.ClosedAt.Time.Before(t)
}

// Attribute credits a won deal once: sourced credit to the registration's
// partner (the holder of the approved registration), influenced credit to each
// influence claim of spec.influencers that
//   - the program's CRM integration confirmed as claimed
//     (status.influenceConfirmations: influence is confirmed, not declared),
//   - names a partner of the registration's program (one of partners),
//   - lies between the registration's submission and the close, and within
//     the program's influenceLookback before the close,
//
// never to the sourcing partner and never twice to one partner. Both carry
// the whole won amount: they are reported separately, never added.
func Attribute(d *v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner) *v1alpha1.Attribution {
	o := d.Status.Outcome
	if o == nil || o.Result != v1alpha1.DealResultWon || o.Amount == nil {
		return nil
	}
	a := &v1alpha1.Attribution{Sourced: &v1alpha1.Credit{Partner: d.Spec.Partner, Namespace: d.Namespace, Amount: *o.Amount}}
	lookback := v1alpha1.InfluenceLookback(program)
	seen := map[string]bool{d.Namespace + "/" + d.Spec.Partner: true}
	for _, inf := range d.Spec.Influencers {
		ns := InfluencerNamespace(d, inf)
		id := ns + "/" + inf.Partner
		switch {
		case id == d.Namespace+"/"+d.Spec.Partner:
			a.Excluded = append(a.Excluded, fmt.Sprintf("%s is the sourcing partner: its credit is sourced, not also influenced", id))
		case seen[id]:
			a.Excluded = append(a.Excluded, fmt.Sprintf("%s is named more than once: credited once", id))
		case !InfluenceConfirmed(d, inf):
			a.Excluded = append(a.Excluded, fmt.Sprintf("%s: the claim is not confirmed by the program's CRM integration (status.influenceConfirmations)", id))
		case !inProgram(partners, ns, inf.Partner, program):
			a.Excluded = append(a.Excluded, fmt.Sprintf("%s is not a partner of program %s", id, programName(program)))
		case InfluencedBeforeSubmission(d, inf):
			a.Excluded = append(a.Excluded, fmt.Sprintf("%s influenced at %s, before the registration was submitted (%s)", id,
				inf.At.UTC().Format(time.RFC3339), d.Spec.SubmittedAt.UTC().Format(time.RFC3339)))
		case inf.At.After(o.ClosedAt.Time):
			a.Excluded = append(a.Excluded, fmt.Sprintf("%s influenced after the close (%s)", id, inf.At.UTC().Format(time.RFC3339)))
		case o.ClosedAt.Sub(inf.At.Time) > lookback:
			a.Excluded = append(a.Excluded, fmt.Sprintf("%s influenced at %s, more than %s before the close", id, inf.At.UTC().Format(time.RFC3339), lookback))
		default:
			a.Influenced = append(a.Influenced, v1alpha1.Credit{Partner: inf.Partner, Namespace: ns, Role: inf.Role, Amount: *o.Amount})
		}
		seen[id] = true
	}
	return a
}

// InfluenceSkew is how far before the registration's submission an influence
// claim may lie: the clocks of the writer and the server may differ a little
// (a claim made with the registration, at the writer's "now", is not refused).
const InfluenceSkew = time.Minute

// InfluencedBeforeSubmission reports whether claim inf lies before the
// registration's submission (spec.submittedAt, less InfluenceSkew): influence
// is claimed on a registered deal, never backdated before it.
func InfluencedBeforeSubmission(d *v1alpha1.DealRegistration, inf v1alpha1.Influencer) bool {
	return d.Spec.SubmittedAt != nil && inf.At.Time.Before(d.Spec.SubmittedAt.Time.Add(-InfluenceSkew))
}

// InfluencerNamespace is the namespace of an influencing partner: its own, or
// the registration's when empty.
func InfluencerNamespace(d *v1alpha1.DealRegistration, inf v1alpha1.Influencer) string {
	if inf.Namespace != "" {
		return inf.Namespace
	}
	return d.Namespace
}

// InfluenceConfirmed reports whether the program's CRM integration confirmed
// claim inf as claimed: a status.influenceConfirmations entry naming the same
// partner (namespace resolved the same way), role and time.
func InfluenceConfirmed(d *v1alpha1.DealRegistration, inf v1alpha1.Influencer) bool {
	ns := InfluencerNamespace(d, inf)
	return slices.ContainsFunc(d.Status.InfluenceConfirmations, func(c v1alpha1.InfluenceConfirmation) bool {
		return c.ConfirmedBy != "" && c.Partner == inf.Partner && InfluencerNamespace(d, c.Influencer) == ns && c.Role == inf.Role && c.At.Equal(&inf.At)
	})
}

// inProgram reports whether partners holds partner ns/name of program.
func inProgram(partners []v1alpha1.Partner, ns, name string, program *v1alpha1.PartnerProgram) bool {
	return program != nil && slices.ContainsFunc(partners, func(p v1alpha1.Partner) bool {
		return p.Namespace == ns && p.Name == name && p.Spec.Program == program.Name
	})
}

func programName(p *v1alpha1.PartnerProgram) string {
	if p == nil {
		return "-"
	}
	return p.Name
}

func influencedNote(a *v1alpha1.Attribution) string {
	if a == nil || len(a.Influenced) == 0 {
		return ""
	}
	var names []string
	for _, c := range a.Influenced {
		names = append(names, c.Partner)
	}
	return "; influenced credit to " + strings.Join(names, ", ")
}

// finish sets the conditions every evaluation ends with.
func (r *Result) finish(st v1alpha1.DealRegistrationStatus, now metav1.Time, held bool) Result {
	if held {
		conditions.Set(&st.Conditions, st.ObservedGeneration, now, ConditionHeld, metav1.ConditionTrue, st.Reason, "holds "+keysText(st))
	} else {
		conditions.Set(&st.Conditions, st.ObservedGeneration, now, ConditionHeld, metav1.ConditionFalse, orPhase(st), "does not hold "+dash(keysText(st)))
	}
	ready := metav1.ConditionTrue
	if st.Phase == "" || st.Phase == v1alpha1.DealSubmitted {
		ready = metav1.ConditionFalse
	}
	conditions.Set(&st.Conditions, st.ObservedGeneration, now, v1alpha1.ConditionReady, ready, orPhase(st), st.Message)
	if st.Phase == v1alpha1.DealApproved && st.ProtectedUntil != nil {
		t := st.ProtectedUntil.Time
		r.Next = &t
	}
	r.Status = st
	return *r
}

func orPhase(st v1alpha1.DealRegistrationStatus) string {
	if st.Reason != "" {
		return st.Reason
	}
	if st.Phase != "" {
		return string(st.Phase)
	}
	return "Pending"
}

// autoApproval says why a registration is approved at submission, "" when it
// goes to review: the program must have autoApprove rules, every rule set must
// hold, and no duplicate may be suspected.
func autoApproval(in Input, suspected bool) string {
	r := rules(in.Program)
	if r == nil || r.AutoApprove == nil || suspected || in.Deal.Spec.PublicTender {
		return ""
	}
	a := r.AutoApprove
	var why []string
	if a.MinTierRank != nil {
		rank := in.Partner.Status.TierRank
		if rank == nil || *rank < *a.MinTierRank {
			return ""
		}
		why = append(why, fmt.Sprintf("tier rank %d is at least %d", *rank, *a.MinTierRank))
	}
	if a.MaxAmount != nil {
		amt := in.Deal.Spec.Amount
		if amt.Currency != a.MaxAmount.Currency {
			return ""
		}
		if c, err := decimal.Compare(amt.Amount, a.MaxAmount.Amount); err != nil || c > 0 {
			return ""
		}
		why = append(why, fmt.Sprintf("%s %s is at most %s %s", amt.Amount, amt.Currency, a.MaxAmount.Amount, a.MaxAmount.Currency))
	}
	why = append(why, "no duplicate suspected")
	return strings.Join(why, ", ")
}

// ineligible says why the program does not accept a registration, "" when it
// does: a public tender under a program that does not review them (the
// default), or an amount below the program's minimum.
func ineligible(d *v1alpha1.DealRegistration, r *v1alpha1.DealRegistrationRules) string {
	if d.Spec.PublicTender && (r == nil || r.PublicTenders != v1alpha1.PublicTendersReview) {
		return "the customer buys through a public tender, open to every bidder: the program does not protect registrations for public tenders (spec.dealRegistration.publicTenders is Ineligible)"
	}
	if r == nil || r.MinAmount == nil {
		return ""
	}
	min, amt := r.MinAmount, d.Spec.Amount
	if amt.Currency != min.Currency {
		return fmt.Sprintf("the program's minimum amount is in %s; register the amount in %s", min.Currency, min.Currency)
	}
	if c, err := decimal.Compare(amt.Amount, min.Amount); err != nil || c < 0 {
		return fmt.Sprintf("%s %s is below the program's minimum of %s %s", amt.Amount, amt.Currency, min.Amount, min.Currency)
	}
	return ""
}

// keysText is the registration's keys for a message: "a and b".
func keysText(st v1alpha1.DealRegistrationStatus) string {
	if len(st.ConflictKeys) > 0 {
		return strings.Join(st.ConflictKeys, " and ")
	}
	return st.ConflictKey
}

// inLine reports whether o waits for or holds one of keys and has not ended.
func inLine(o *v1alpha1.DealRegistration, keys []string) bool {
	return sharesKey(KeysOf(o), keys) && !Final(o.Status.Phase) && !o.Spec.Withdrawn
}

// Settle is how long after its submittedAt a registration waits before it
// takes a free key: the time a registration submitted just before it has to
// pass admission and reach the controller's cache, so that it is seen ahead in
// line. A registration that arrives later than that finds the key taken and
// queues behind its holder.
const Settle = 2 * time.Second

// Before reports whether registration a was submitted before b: by
// spec.submittedAt to the microsecond, then by namespace and name.
func Before(a, b *v1alpha1.DealRegistration) bool {
	ta, tb := submitted(a), submitted(b)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

func submitted(d *v1alpha1.DealRegistration) time.Time {
	if d.Spec.SubmittedAt != nil {
		return d.Spec.SubmittedAt.Time
	}
	return d.CreationTimestamp.Time
}

// aheadInLine is the earliest registration waiting for one of d's keys that
// was submitted before d, nil when d is first in line. A registration the
// controller has not evaluated yet (no status.conflictKey) counts when its
// customer and product line give one of d's keys under d's program: d waits
// the moment it takes to evaluate it rather than jump the line.
func aheadInLine(d *v1alpha1.DealRegistration, keys []string, others []v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram) *v1alpha1.DealRegistration {
	var first *v1alpha1.DealRegistration
	for i := range others {
		o := &others[i]
		if o.UID == d.UID || !Before(o, d) {
			continue
		}
		if !inLine(o, keys) {
			if o.Status.ConflictKey != "" || o.Status.Phase != "" || o.Spec.Withdrawn {
				continue
			}
			if _, k, err := Keys(o, program); err != nil || !sharesKey(k, keys) {
				continue
			}
		}
		if first == nil || Before(o, first) {
			first = o
		}
	}
	return first
}

// duplicates lists the open registrations d resembles: one sharing a conflict
// key (a domain or a D-U-N-S number), or the same customer name under other
// identifiers (suspected), at most 8. Only two different D-U-N-S numbers say
// that two customers of one name are different companies.
func duplicates(d *v1alpha1.DealRegistration, keys []string, others []v1alpha1.DealRegistration) []v1alpha1.DuplicateMatch {
	name := NormalName(d.Spec.Customer.Name)
	program := keys[0][:strings.Index(keys[0], "/")+1] // keys start with "<program>/"
	var out []v1alpha1.DuplicateMatch
	for i := range others {
		o := &others[i]
		if o.UID == d.UID || Final(o.Status.Phase) || !strings.HasPrefix(o.Status.ConflictKey, program) {
			continue
		}
		m := v1alpha1.DuplicateMatch{Namespace: o.Namespace, Name: o.Name, Partner: o.Spec.Partner}
		switch {
		case sharesKey(KeysOf(o), keys):
			m.MatchedOn = "ConflictKey"
		case name != "" && NormalName(o.Spec.Customer.Name) == name && o.Spec.ProductLine == d.Spec.ProductLine &&
			(o.Spec.Customer.DUNS == "" || d.Spec.Customer.DUNS == "" || o.Spec.Customer.DUNS == d.Spec.Customer.DUNS):
			m.MatchedOn = "CustomerName"
		default:
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b v1alpha1.DuplicateMatch) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	if len(out) > 8 {
		out = out[:8]
	}
	return out
}

// Refusal says why a registration of customer domain will be rejected under
// program's rules whoever holds the customer: not eligible, or a reserved
// account. "" when neither.
func Refusal(d *v1alpha1.DealRegistration, domain string, program *v1alpha1.PartnerProgram) string {
	if why := ineligible(d, rules(program)); why != "" {
		return why
	}
	if a := reserved(d, domain, rules(program)); a != nil {
		return fmt.Sprintf("customer %s is a reserved account of the program for %s, which only the direct team holds", domain, d.Spec.ProductLine)
	}
	return ""
}

// reserved is the program's reserved account d's customer and product line
// fall under, nil when none: by either of d's identifiers, an account named by
// DUNS matching d's D-U-N-S number and one named by domain matching d's
// canonical domain (the reserved domain canonicalised under the same rules),
// whether or not d also gives the other identifier.
func reserved(d *v1alpha1.DealRegistration, domain string, r *v1alpha1.DealRegistrationRules) *v1alpha1.ReservedAccount {
	if r == nil {
		return nil
	}
	for i := range r.ReservedAccounts {
		a := &r.ReservedAccounts[i]
		if len(a.ProductLines) > 0 && !slices.Contains(a.ProductLines, d.Spec.ProductLine) {
			continue
		}
		if a.DUNS != "" {
			if a.DUNS == d.Spec.Customer.DUNS {
				return a
			}
			continue
		}
		if c, err := CanonicalDomain(a.Domain, r); err == nil && c == domain {
			return a
		}
	}
	return nil
}

// ownEarlier is a registration of d's partner sharing one of d's keys,
// submitted before d and not ended: d then duplicates it. Nil when there is none.
func ownEarlier(d *v1alpha1.DealRegistration, keys []string, others []v1alpha1.DealRegistration) *v1alpha1.DealRegistration {
	for i := range others {
		o := &others[i]
		if o.UID != d.UID && o.Namespace == d.Namespace && o.Spec.Partner == d.Spec.Partner && inLine(o, keys) && Before(o, d) {
			return o
		}
	}
	return nil
}

// conflictApproved reports whether the registration's one escalation was
// approved and not superseded: the customer is decided for it.
func conflictApproved(in Input, st v1alpha1.DealRegistrationStatus) bool {
	return in.Conflict != nil && effects.Approved(in.Conflict, in.Seals) &&
		st.Conflict != nil && (st.Conflict.Result == "" || st.Conflict.Result == "Approved")
}

// escalate advances a queued registration's conflict escalation against
// holder h: it opens the DealConflict request, waits for it, takes the key
// over once it is approved (from h only), or records that it was denied or
// superseded (the holder changed before the decision).
func escalate(in Input, res *Result, st *v1alpha1.DealRegistrationStatus, now metav1.Time,
	move func(v1alpha1.DealPhase, string, string, ...any), h v1alpha1.DealHolder, domain string) Result {
	d := in.Deal
	if st.Conflict == nil {
		st.Conflict = &v1alpha1.DealConflict{Request: ConflictName(d), Against: h}
	}
	c := st.Conflict
	q := in.Conflict
	switch {
	case c.Against.UID != h.UID:
		c.Result = "Superseded"
		move(v1alpha1.DealQueued, v1alpha1.ReasonDealHeld, "registration %s/%s of partner %s now holds customer %s for %s; the conflict escalated against %s/%s through request %s is superseded, and this one stays in line",
			h.Namespace, h.Name, h.Partner, domain, d.Spec.ProductLine, c.Against.Namespace, c.Against.Name, c.Request)
	case q == nil || q.Status.Phase == "" || q.Status.Phase == v1alpha1.PhasePending || effects.Unexplained(q, in.Seals):
		res.OpenConflict = q == nil
		move(v1alpha1.DealQueued, "ConflictEscalated", "registration %s/%s of partner %s holds customer %s for %s; the conflict is escalated through request %s",
			h.Namespace, h.Name, h.Partner, domain, d.Spec.ProductLine, c.Request)
	case effects.Approved(q, in.Seals):
		res.Lock, res.From = TakeOver, h.UID
	default:
		c.Result = "Denied"
		move(v1alpha1.DealQueued, "ConflictDenied", "conflict request %s ended %s: registration %s/%s of partner %s keeps customer %s for %s, and this one stays in line",
			c.Request, q.Status.Phase, h.Namespace, h.Name, h.Partner, domain, d.Spec.ProductLine)
	}
	return res.finish(*st, now, false)
}

// ConflictName is the name of a registration's DealConflict request.
func ConflictName(d *v1alpha1.DealRegistration) string { return requestName(d, "conflict") }

// ReviewName is the name of a registration's review request.
func ReviewName(d *v1alpha1.DealRegistration) string { return requestName(d, "review") }

// Protection is how long an approved registration is protected: the held
// tier's dealProtection when it sets one, else the program's protection.
func Protection(program *v1alpha1.PartnerProgram, held *v1alpha1.PartnerTier) time.Duration {
	if held != nil && held.Spec.Entitlements.DealProtection != nil && held.Spec.Entitlements.DealProtection.Duration > 0 {
		return held.Spec.Entitlements.DealProtection.Duration
	}
	return v1alpha1.DealProtection(program)
}

// ExtensionName is the name of a registration's extension request.
func ExtensionName(d *v1alpha1.DealRegistration) string { return requestName(d, "extension") }

// requestName is <registration>-<what>-<the first 8 characters of its UID>: the
// UID keeps a new registration of an old name from inheriting the old one's
// requests (an approval, or a denial).
func requestName(d *v1alpha1.DealRegistration, what string) string {
	uid := string(d.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	n := d.Name
	if max := 253 - len(what) - len(uid) - 2; len(n) > max {
		n = n[:max]
	}
	return n + "-" + what + "-" + uid
}

// ProtectedAt reports whether a close at t lies within the registration's
// protection, [approvedAt, protectedUntil): only such a close earns credit.
func ProtectedAt(st v1alpha1.DealRegistrationStatus, t time.Time) bool {
	return st.ApprovedAt != nil && st.ProtectedUntil != nil && !t.Before(st.ApprovedAt.Time) && t.Before(st.ProtectedUntil.Time)
}

func protectionText(st v1alpha1.DealRegistrationStatus) string {
	if st.ApprovedAt == nil || st.ProtectedUntil == nil {
		return "it was never approved"
	}
	return st.ApprovedAt.UTC().Format(time.RFC3339) + " to " + st.ProtectedUntil.UTC().Format(time.RFC3339)
}

func lastMessage(q *v1alpha1.ExceptionRequest) string {
	for _, c := range q.Status.Conditions {
		if string(c.Type) == string(q.Status.Phase) {
			return c.Message
		}
	}
	return string(q.Status.Phase)
}

func clip(s string) string {
	if len(s) > 1024 {
		return s[:1021] + "..."
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// heldBehindRecords reports whether request q is held because its status is
// behind its records (condition StatusBehindRecords): it decides nothing, and
// its SLA does not run, until its decisions are restored.
func heldBehindRecords(q *v1alpha1.ExceptionRequest) bool {
	return q != nil && meta.IsStatusConditionTrue(q.Status.Conditions, v1alpha1.ConditionStatusBehindRecords)
}

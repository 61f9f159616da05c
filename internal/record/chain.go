package record

// Tamper evidence. Every record a partner gets in a namespace is linked to the
// partner's record before it: spec.chain holds its sequence (1, 2, 3, ... per
// namespace and partner), the digest of the record before it and its own
// digest, a SHA-256 over its namespace, name and spec. The controller assigns
// them one record at a time per partner, after writing the partner's
// RecordChain (the chain's head, sealed, in the governance group) to take the
// new record as its newest. A record changed, removed, replaced or reordered
// outside the controller then no longer fits the chain or the head, and Verify
// names it.

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ChainName is the name of the RecordChain of partner's records: the
// partner's own name, or "chain-" and a hash of it when it cannot name an object.
func ChainName(partner string) string {
	if len(validation.IsDNS1123Subdomain(partner)) == 0 {
		return partner
	}
	sum := sha256.Sum256([]byte(partner))
	return "chain-" + hex.EncodeToString(sum[:])[:40]
}

// Head is where a partner's chain ends: what its next record links to.
type Head struct {
	// Sequence of the newest record; 0 for a chain with no record yet.
	Sequence int64
	// Digest of the newest record.
	Digest string
	// RetainUntil of the newest record.
	RetainUntil *metav1.Time
	// Newest is the newest record as the head holds it, when at hand.
	Newest *recordsv1alpha1.DecisionRecord
}

// NewestOf is the newest record RecordChain rc holds, as a DecisionRecord.
func NewestOf(rc *v1alpha1.RecordChain) *recordsv1alpha1.DecisionRecord {
	n := rc.Spec.Newest.DeepCopy()
	return &recordsv1alpha1.DecisionRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: rc.Namespace, Name: n.Name, Labels: n.Labels},
		Spec:       n.Spec,
	}
}

// HeadOfChain is the head RecordChain rc says the chain has: its sequence and
// digest, and its copy of the newest record (which Verify checks against them).
func HeadOfChain(rc *v1alpha1.RecordChain) *Head {
	newest := NewestOf(rc)
	return &Head{Sequence: rc.Spec.Sequence, Digest: rc.Spec.Digest, RetainUntil: newest.Spec.RetainUntil.DeepCopy(), Newest: newest}
}

// HeadOf is the head of a chain whose newest record is rec (a chained record).
func HeadOf(rec *recordsv1alpha1.DecisionRecord) Head {
	until := rec.Spec.RetainUntil.DeepCopy()
	return Head{Sequence: rec.Spec.Chain.Sequence, Digest: rec.Spec.Chain.Digest, RetainUntil: until, Newest: rec}
}

// digestDomain starts every digest, so that a digest of a record is never one
// of anything else (and a later encoding can take another).
const digestDomain = "partnergov.io/decision-record/v1"

// Digest is rec's digest: the hex SHA-256 of its namespace, its name and its
// spec (as JSON, spec.chain.digest left empty). Labels and other metadata are
// not covered: they are not the decision.
func Digest(rec *recordsv1alpha1.DecisionRecord) string {
	spec := rec.Spec
	if spec.Chain != nil {
		link := *spec.Chain
		link.Digest = ""
		spec.Chain = &link
	}
	b, err := json.Marshal(spec)
	if err != nil {
		panic(fmt.Sprintf("encoding a DecisionRecord spec: %v", err)) // plain data: it cannot fail
	}
	h := sha256.New()
	for _, part := range []string{digestDomain, rec.Namespace, rec.Name, string(b)} {
		h.Write([]byte(strconv.Itoa(len(part))))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Link makes rec the record after head: the next sequence, the head's digest
// as the previous one, and rec's own digest.
func Link(rec *recordsv1alpha1.DecisionRecord, head Head) {
	link := &recordsv1alpha1.ChainLink{Sequence: head.Sequence + 1, Previous: head.Digest}
	if head.Sequence > 0 && head.RetainUntil != nil {
		link.PreviousRetainUntil = head.RetainUntil.DeepCopy()
	}
	rec.Spec.Chain = link
	link.Digest = Digest(rec)
}

// Newest is the chained record of records with the highest sequence (nil when
// none is chained): a chain whose head is lost resumes after it.
func Newest(records []recordsv1alpha1.DecisionRecord) *recordsv1alpha1.DecisionRecord {
	var newest *recordsv1alpha1.DecisionRecord
	for i := range records {
		if c := records[i].Spec.Chain; c != nil && (newest == nil || c.Sequence > newest.Spec.Chain.Sequence) {
			newest = &records[i]
		}
	}
	return newest
}

// FindingKind is what kind of tampering a finding shows.
type FindingKind string

const (
	// FindingGap: records of the chain are missing (deleted before their
	// retention, or relabelled out of the partner's history).
	FindingGap FindingKind = "gap"
	// FindingFork: two records claim one place in the chain.
	FindingFork FindingKind = "fork"
	// FindingReordered: a record does not follow the record before it (one of
	// them was replaced, or records were moved).
	FindingReordered FindingKind = "reordered"
	// FindingAltered: a record's content no longer matches its digest.
	FindingAltered FindingKind = "altered"
	// FindingHeadMismatch: the chain does not end where its sealed head says
	// (the history up to the head was rewritten or truncated, or the head was
	// written past the controller).
	FindingHeadMismatch FindingKind = "head mismatch"
	// FindingUnanchored: chained records that no head vouches for (beyond the
	// head, or no head at all).
	FindingUnanchored FindingKind = "unanchored"
	// FindingUnsealedHead: the head's seal does not verify under the seal keys
	// given to the check: it was written past the webhooks.
	FindingUnsealedHead FindingKind = "unsealed head"
)

// Finding is one thing Verify found wrong, naming the records involved.
type Finding struct {
	Kind FindingKind
	// Sequence is the place in the chain the finding is about.
	Sequence int64
	// Records are the names of the records involved.
	Records []string
	// Message says what is wrong, in a sentence that names the records.
	Message string
}

func (f Finding) String() string { return string(f.Kind) + ": " + f.Message }

// Verification is what Verify found.
type Verification struct {
	// Chained counts the chained records checked (a newest record written
	// ahead in the head and not stored yet is not counted).
	Chained int
	// Unchained are the records made before records were chained: nothing
	// vouches for them, and nothing is wrong with them either.
	Unchained []string
	// HeadSequence is the head's sequence (0 without a head).
	HeadSequence int64
	// Notes are what is in order but worth saying: records pruned past their
	// retention, a newest record written ahead and not stored yet.
	Notes []string
	// Findings are what is wrong, in chain order.
	Findings []Finding
}

// Verified reports whether nothing is wrong.
func (v Verification) Verified() bool { return len(v.Findings) == 0 }

// short is the start of a digest, enough to tell two apart in a message.
func short(digest string) string {
	if digest == "" {
		return `""`
	}
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func stampOf(t *metav1.Time) string {
	if t == nil {
		return "an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

func span(from, to int64) string {
	if from == to {
		return "sequence " + strconv.FormatInt(from, 10)
	}
	return fmt.Sprintf("sequences %d-%d", from, to)
}

// Verify checks the records of one partner in one namespace (every one its
// history holds, in any order) against each other and against head, the
// partner's RecordChain (nil when there is none), at now. It names:
//   - an altered record: its content does not match its digest;
//   - a fork: two records claim one sequence;
//   - a reordering: a record's previous digest is not the digest of the record
//     before it (one of them was replaced, or they were moved);
//   - a gap: sequences missing between two records, or before the oldest
//     record while the record before it is still within its retention (records
//     are pruned oldest first, so a missing prefix past its retention is in
//     order);
//   - a head mismatch: the record at the head's sequence is missing or is not
//     the one the head sealed (the history up to it was rewritten or
//     truncated), or the head contradicts itself;
//   - unanchored records: beyond the head's sequence, or chained with no head.
//
// The head's newest record, held whole, stands in for a stored one that is
// missing (written ahead and not created yet, or deleted: the controller
// creates it again with the partner's next record); Verify notes it. Records
// made before chaining are listed as unchained, not as findings. Verify does
// not check the head's seal: only the controller holds the key, and checks it
// whenever it extends the chain.
func Verify(records []recordsv1alpha1.DecisionRecord, head *Head, now time.Time) Verification {
	var v Verification
	bySeq := map[int64][]*recordsv1alpha1.DecisionRecord{}
	for i := range records {
		r := &records[i]
		if r.Spec.Chain == nil {
			v.Unchained = append(v.Unchained, r.Name)
			continue
		}
		v.Chained++
		seq := r.Spec.Chain.Sequence
		bySeq[seq] = append(bySeq[seq], r)
		if Digest(r) != r.Spec.Chain.Digest {
			v.find(FindingAltered, seq, fmt.Sprintf("record %s (sequence %d) does not match its digest %s: it was changed after it was made",
				r.Name, seq, short(r.Spec.Chain.Digest)), r.Name)
		}
	}
	slices.Sort(v.Unchained)

	if head != nil {
		v.HeadSequence = head.Sequence
		if n := head.Newest; n != nil {
			switch {
			case n.Spec.Chain == nil || n.Spec.Chain.Sequence != head.Sequence || n.Spec.Chain.Digest != head.Digest || Digest(n) != head.Digest:
				v.find(FindingHeadMismatch, head.Sequence, fmt.Sprintf(
					"the head's copy of its newest record %s does not match the head's sequence %d and digest %s: the head was written past the controller",
					n.Name, head.Sequence, short(head.Digest)), n.Name)
			case len(bySeq[head.Sequence]) == 0:
				bySeq[head.Sequence] = []*recordsv1alpha1.DecisionRecord{n}
				if now.Before(n.Spec.RetainUntil.Time) {
					v.Notes = append(v.Notes, fmt.Sprintf(
						"record %s (sequence %d, the newest) is held by the head and not stored: written ahead (or deleted); the controller creates it with the partner's next record",
						n.Name, head.Sequence))
				} else {
					v.Notes = append(v.Notes, fmt.Sprintf("record %s (sequence %d, the newest) was pruned past its retention; the head holds it", n.Name, head.Sequence))
				}
			}
		}
	}

	seqs := make([]int64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	var prev *recordsv1alpha1.DecisionRecord
	for i, s := range seqs {
		at := bySeq[s]
		if len(at) > 1 {
			names := make([]string, len(at))
			for j, r := range at {
				names[j] = r.Name
			}
			slices.Sort(names)
			v.find(FindingFork, s, fmt.Sprintf("records %s all claim sequence %d: the chain was forked", joinNames(names), s), names...)
		}
		// Of records claiming one place, the one that follows its predecessor.
		r := at[0]
		if prev != nil && s == prev.Spec.Chain.Sequence+1 {
			for _, c := range at {
				if c.Spec.Chain.Previous == prev.Spec.Chain.Digest {
					r = c
					break
				}
			}
		}
		link := r.Spec.Chain
		switch {
		case i == 0 && s == 1:
			if link.Previous != "" {
				v.find(FindingReordered, s, fmt.Sprintf("record %s claims sequence 1 but names a previous record (digest %s): it was moved", r.Name, short(link.Previous)), r.Name)
			}
		case i == 0:
			if link.PreviousRetainUntil != nil && !now.Before(link.PreviousRetainUntil.Time) {
				v.Notes = append(v.Notes, fmt.Sprintf("%s, before record %s, were pruned past their retention", span(1, s-1), r.Name))
			} else {
				v.find(FindingGap, s-1, fmt.Sprintf("%s, before record %s, are missing, and sequence %d was retained until %s: deleted before its retention",
					span(1, s-1), r.Name, s-1, stampOf(link.PreviousRetainUntil)), r.Name)
			}
		case s == prev.Spec.Chain.Sequence+1:
			if link.Previous != prev.Spec.Chain.Digest {
				v.find(FindingReordered, s, fmt.Sprintf(
					"record %s (sequence %d) follows digest %s, but record %s (sequence %d) has digest %s: one of them was replaced, or they were moved",
					r.Name, s, short(link.Previous), prev.Name, s-1, short(prev.Spec.Chain.Digest)), prev.Name, r.Name)
			}
		default:
			p := prev.Spec.Chain.Sequence
			v.find(FindingGap, p+1, fmt.Sprintf("%s missing between record %s (sequence %d) and record %s (sequence %d)",
				span(p+1, s-1), prev.Name, p, r.Name, s), prev.Name, r.Name)
		}
		prev = r
	}

	switch {
	case head == nil && len(seqs) > 0:
		v.find(FindingUnanchored, seqs[len(seqs)-1], fmt.Sprintf(
			"%d chained record(s) and no RecordChain: the newest records cannot be checked (the head was deleted, or its namespace was)", v.Chained))
	case head != nil && head.Sequence > 0:
		for _, s := range seqs {
			if s <= head.Sequence {
				continue
			}
			for _, r := range bySeq[s] {
				v.find(FindingUnanchored, s, fmt.Sprintf(
					"record %s (sequence %d) is beyond the head (sequence %d): the controller did not chain it (or it was recorded while this ran: run again)",
					r.Name, s, head.Sequence), r.Name)
			}
		}
		at := bySeq[head.Sequence]
		switch {
		case len(at) == 0:
			v.find(FindingHeadMismatch, head.Sequence, fmt.Sprintf(
				"the head is at sequence %d, and no record has it: the history up to it was truncated", head.Sequence))
		case !slices.ContainsFunc(at, func(r *recordsv1alpha1.DecisionRecord) bool { return r.Spec.Chain.Digest == head.Digest }):
			v.find(FindingHeadMismatch, head.Sequence, fmt.Sprintf(
				"the head seals sequence %d with digest %s, but record %s has digest %s: the history up to it was rewritten",
				head.Sequence, short(head.Digest), at[0].Name, short(at[0].Spec.Chain.Digest)), at[0].Name)
		}
	}
	slices.SortStableFunc(v.Findings, func(a, b Finding) int { return cmp.Compare(a.Sequence, b.Sequence) })
	return v
}

func (v *Verification) find(kind FindingKind, seq int64, message string, records ...string) {
	v.Findings = append(v.Findings, Finding{Kind: kind, Sequence: seq, Records: records, Message: message})
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " and " + names[len(names)-1]
}

// ChainKey names one partner's chain: its records' namespace and spec.partner.
type ChainKey struct{ Namespace, Partner string }

// KeyOf is the chain rec belongs to.
func KeyOf(rec *recordsv1alpha1.DecisionRecord) ChainKey {
	return ChainKey{Namespace: rec.Namespace, Partner: rec.Spec.Partner}
}

// Retained notes in floor, per chain, the lowest sequence among records that
// are still within their retention at now. A pruning pass calls it on every
// page of records before it prunes any (Prunable).
func Retained(floor map[ChainKey]int64, records []recordsv1alpha1.DecisionRecord, now time.Time) {
	for i := range records {
		r := &records[i]
		if r.Spec.Chain == nil || !now.Before(r.Spec.RetainUntil.Time) {
			continue
		}
		if f, ok := floor[KeyOf(r)]; !ok || r.Spec.Chain.Sequence < f {
			floor[KeyOf(r)] = r.Spec.Chain.Sequence
		}
	}
}

// Prunable returns the records past their retention at now that may be
// deleted: an unchained one, and a chained one below its chain's floor (see
// Retained; every one of a chain with no floor). Chains are pruned oldest
// first: a record waits for the records before it even when its own
// retention is shorter (the program's recordRetention was lowered), so that
// the records missing from a chain are always its oldest, and Verify can tell
// pruning from deletion.
func Prunable(records []recordsv1alpha1.DecisionRecord, floor map[ChainKey]int64, now time.Time) []*recordsv1alpha1.DecisionRecord {
	var out []*recordsv1alpha1.DecisionRecord
	for _, r := range Expired(records, now) {
		if r.Spec.Chain != nil {
			if f, ok := floor[KeyOf(r)]; ok && r.Spec.Chain.Sequence >= f {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// SameDecision reports whether stored keeps the decision rec records: the
// same type, subject, partner, time (to the second), actor, reason,
// transition, request and stage. Its wording (message, evidence, generations, retention) may differ
// between two attempts at recording one decision; a record under rec's name
// that is not the same decision was put there by someone else, and rec is not
// recorded by it.
func SameDecision(stored, rec *recordsv1alpha1.DecisionRecord) bool {
	a, b := stored.Spec, rec.Spec
	// A stored time has whole seconds (metav1.Time's encoding); the one to
	// record may not have been stored yet.
	return a.Type == b.Type && a.Subject == b.Subject && a.Partner == b.Partner && a.Time.Unix() == b.Time.Unix() &&
		a.Actor == b.Actor && a.Reason == b.Reason && a.From == b.From && a.To == b.To &&
		a.Request == b.Request && a.Stage == b.Stage
}

package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
)

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=recordchains,verbs=get;create;update

// Chain creates DecisionRecords, each in its partner's hash chain (one chain
// per namespace and spec.partner; record.Link), for every controller that
// records. Whatever records for a partner, in this process or in another
// manager during a failover, goes through the partner's RecordChain, the
// chain's sealed head, so no two records claim one place:
//
//  1. a record that exists is done: a decision recorded twice claims no second place;
//  2. the head is read (uncached; none is an empty chain, or one whose head was
//     lost: it resumes after the newest stored record). Its newest record,
//     which the head holds whole, is created if it is missing (a writer that
//     crashed after writing the head): AlreadyExists is done. When it is the
//     record being recorded, that is all;
//  3. the record is linked after the head, and the head is written, carrying
//     the resourceVersion read, with the record as its newest and a new seal.
//     A Conflict (another writer moved the head) starts again from 1;
//  4. the record is created (AlreadyExists is done: the pending record's writer
//     in 2 made it, identical).
//
// A crash anywhere leaves either nothing claimed or a head whose newest record
// the next record of the partner creates: no gap, no fork. The resourceVersion
// is what keeps writers apart; within the process, one partner's records also
// go one at a time (a mutex per partner, so they do not refuse each other as
// Conflicts), and the head
// the process last wrote is remembered (its resourceVersion, sequence and
// digest: memory per partner, not per record), so a partner's next record
// costs one read of the record, the head's update and the record's create.
type Chain struct {
	// Client writes records and heads.
	Client client.Client
	// Reader reads records and heads from the API server, uncached.
	Reader client.Reader
	// Seals seal the heads; nil when sealing is off.
	Seals *seal.Keys
	Clock clock.PassiveClock
	// Events, when set, gets a Warning about a head that did not verify.
	Events events.EventRecorder

	mu       sync.Mutex
	partners map[record.ChainKey]*chainState
}

// chainState is what one partner's records serialize on.
type chainState struct {
	mu sync.Mutex
	// known is the head as this process last wrote it, its newest record
	// stored; nil when the head must be read.
	known *knownHead
}

// knownHead is a head with the resourceVersion it was read or written at ("":
// there is no head object yet).
type knownHead struct {
	resourceVersion string
	head            record.Head
	// tierChange is the head's anchor of the partner's newest recorded tier
	// decision (RecordChainSpec.NewestTierChange); nil for none.
	tierChange *v1alpha1.RecordedDecision
}

// errChainMoved: another writer moved the head since it was read.
var errChainMoved = errors.New("the partner's record chain moved")

// chainAttempts bounds how often one record starts again after another writer
// moved the head; past it the controller's own retry takes over.
const chainAttempts = 10

// Record creates rec in its partner's chain, unless it exists.
func (c *Chain) Record(ctx context.Context, rec *recordsv1alpha1.DecisionRecord) error {
	st := c.state(record.KeyOf(rec))
	st.mu.Lock()
	defer st.mu.Unlock()
	for attempt := 1; ; attempt++ {
		err := c.record(ctx, st, rec)
		if err == nil {
			return nil
		}
		st.known = nil // read the head again
		if !errors.Is(err, errChainMoved) || attempt == chainAttempts {
			return fmt.Errorf("recording %s/%s in the chain of partner %s: %w", rec.Namespace, rec.Name, rec.Spec.Partner, err)
		}
		// Another manager is recording for the partner (a failover): let it
		// finish a record before reading the head again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Duration(5+rand.IntN(20)) * time.Millisecond):
		}
	}
}

func (c *Chain) state(key record.ChainKey) *chainState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.partners == nil {
		c.partners = map[record.ChainKey]*chainState{}
	}
	st, ok := c.partners[key]
	if !ok {
		st = &chainState{}
		c.partners[key] = st
	}
	return st
}

func (c *Chain) record(ctx context.Context, st *chainState, rec *recordsv1alpha1.DecisionRecord) error {
	existing := &recordsv1alpha1.DecisionRecord{}
	switch err := c.Reader.Get(ctx, client.ObjectKeyFromObject(rec), existing); {
	case err == nil:
		if !record.SameDecision(existing, rec) {
			return c.nameTaken(ctx, rec, existing)
		}
		return nil
	case !apierrors.IsNotFound(err):
		return err
	}

	known := st.known
	if known == nil {
		read, err := c.readHead(ctx, rec.Namespace, rec.Spec.Partner)
		if err != nil {
			return err
		}
		if n := read.head.Newest; n != nil {
			// Written ahead by a writer that may have crashed before creating
			// it; unless it was pruned since, past its retention. It is read
			// first: it almost always exists (every head read after a restart
			// finds the last record made), and a read costs the store less
			// than a create it refuses.
			if c.Clock.Now().Before(n.Spec.RetainUntil.Time) {
				if err := c.ensureRecord(ctx, n); err != nil {
					return err
				}
			}
			read.head.Newest = nil
			if n.Name == rec.Name {
				st.known = read
				return nil
			}
		}
		known = read
	}

	next := rec.DeepCopy()
	record.Link(next, known.head)
	link := next.Spec.Chain
	// The head names the newest tier decision recorded, carried forward past
	// records of other kinds: a status cut back past it is found out
	// (tier.StatusBehindRecords), even while the records store is down.
	tierChange := known.tierChange
	if next.Spec.Type == recordsv1alpha1.DecisionTierChange {
		tierChange = recordedDecision(next)
	}
	head := &v1alpha1.RecordChain{
		ObjectMeta: metav1.ObjectMeta{Namespace: next.Namespace, Name: record.ChainName(next.Spec.Partner), ResourceVersion: known.resourceVersion},
		Spec: v1alpha1.RecordChainSpec{
			Partner: next.Spec.Partner, Sequence: link.Sequence, Digest: link.Digest,
			Newest:           v1alpha1.ChainedRecord{Name: next.Name, Labels: next.Labels, Spec: next.Spec},
			NewestTierChange: tierChange.DeepCopy(),
		},
	}
	head.Spec.Seal = c.Seals.Sign(seal.ChainHead(next.Namespace, head.Spec)...)
	var err error
	if known.resourceVersion == "" {
		err = c.Client.Create(ctx, head)
	} else {
		err = c.Client.Update(ctx, head)
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err):
		return errChainMoved
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil // the namespace and its records are going: nothing to chain
	case err != nil:
		return err
	}
	if err := c.createChained(ctx, next); err != nil {
		return err
	}
	st.known = &knownHead{resourceVersion: head.ResourceVersion, head: record.HeadOf(next), tierChange: tierChange}
	st.known.head.Newest = nil
	return nil
}

// readHead reads the head of partner's chain in namespace. A chain without a
// head (a new partner; its head deleted) and one whose head does not verify
// (written past the webhooks, or before sealing was on) resume after the
// newest stored record of the partner.
func (c *Chain) readHead(ctx context.Context, namespace, partner string) (*knownHead, error) {
	var rc v1alpha1.RecordChain
	err := c.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: record.ChainName(partner)}, &rc)
	switch {
	case apierrors.IsNotFound(err):
		return c.resume(ctx, namespace, partner, "")
	case err != nil:
		return nil, err
	}
	newest := record.NewestOf(&rc)
	if why := c.untrusted(&rc, newest, partner); why != "" {
		ctrl.LoggerFrom(ctx).Error(nil, "a record chain's head does not verify; the chain resumes after the newest stored record",
			"recordChain", types.NamespacedName{Namespace: rc.Namespace, Name: rc.Name}, "reason", why)
		if c.Events != nil {
			c.Events.Eventf(&rc, nil, corev1.EventTypeWarning, "UnverifiedRecordChain", "Record",
				"%s; the chain resumes after the newest stored record of partner %s (kubectl partnergov history %s --verify)", why, partner, partner)
		}
		return c.resume(ctx, namespace, partner, rc.ResourceVersion)
	}
	known := &knownHead{resourceVersion: rc.ResourceVersion, head: record.HeadOf(newest), tierChange: rc.Spec.NewestTierChange.DeepCopy()}
	if known.tierChange == nil {
		// A head written before heads named the newest tier decision: it is
		// found once among the partner's tier records, and named from the next
		// head written on.
		t, err := c.newestTierChange(ctx, namespace, partner)
		if err != nil {
			return nil, err
		}
		known.tierChange = t
	}
	return known, nil
}

// recordedDecision names record rec as a head's anchor.
func recordedDecision(rec *recordsv1alpha1.DecisionRecord) *v1alpha1.RecordedDecision {
	return &v1alpha1.RecordedDecision{Name: rec.Name, Time: *rec.Spec.Time.DeepCopy(), SubjectUID: rec.Spec.Subject.UID}
}

// HeadTierChange is the newest recorded tier decision the head rc names, when
// rc is partner's and sealed by the controller (seal.ChainHead); nil otherwise. Whoever
// wrote an unsealed head decided nothing, and demotes nobody.
func HeadTierChange(seals *seal.Keys, rc *v1alpha1.RecordChain, partner string) *v1alpha1.RecordedDecision {
	if rc == nil || rc.Spec.Partner != partner || rc.Spec.NewestTierChange == nil || !seals.Verify(rc.Spec.Seal, seal.ChainHead(rc.Namespace, rc.Spec)...) {
		return nil
	}
	return rc.Spec.NewestTierChange
}

// headSealed tells whether head rc is partner's and sealed by the controller
// (with or without an anchor).
func headSealed(seals *seal.Keys, rc *v1alpha1.RecordChain, partner string) bool {
	return rc.Spec.Partner == partner && seals.Verify(rc.Spec.Seal, seal.ChainHead(rc.Namespace, rc.Spec)...)
}

// newestTierChange is the newest chained TierChange record partner has in
// namespace, as a head's anchor; nil for none.
func (c *Chain) newestTierChange(ctx context.Context, namespace, partner string) (*v1alpha1.RecordedDecision, error) {
	return storedTierChange(ctx, c.Reader, namespace, partner)
}

// storedTierChange is the newest chained TierChange record partner has in
// namespace, read through reader, as a head's anchor; nil for none.
func storedTierChange(ctx context.Context, reader client.Reader, namespace, partner string) (*v1alpha1.RecordedDecision, error) {
	labels := client.MatchingLabels{record.LabelType: string(recordsv1alpha1.DecisionTierChange)}
	if len(validation.IsValidLabelValue(partner)) == 0 {
		labels[record.LabelPartner] = partner
	}
	var newest *recordsv1alpha1.DecisionRecord
	for cont := ""; ; {
		var list recordsv1alpha1.DecisionRecordList
		if err := reader.List(ctx, &list, client.InNamespace(namespace), labels, client.Limit(resumeBatch), client.Continue(cont)); err != nil {
			return nil, fmt.Errorf("listing the tier records of partner %s in %s: %w", partner, namespace, err)
		}
		newest = newerTierChange(newest, list.Items, partner)
		if cont = list.Continue; cont == "" {
			break
		}
	}
	if newest == nil {
		return nil, nil
	}
	return recordedDecision(newest), nil
}

// newerTierChange is the newest chained TierChange record of partner among
// newest and records.
func newerTierChange(newest *recordsv1alpha1.DecisionRecord, records []recordsv1alpha1.DecisionRecord, partner string) *recordsv1alpha1.DecisionRecord {
	for i := range records {
		r := &records[i]
		if r.Spec.Partner == partner && r.Spec.Type == recordsv1alpha1.DecisionTierChange && r.Spec.Chain != nil &&
			(newest == nil || r.Spec.Chain.Sequence > newest.Spec.Chain.Sequence) {
			newest = r.DeepCopy()
		}
	}
	return newest
}

// untrusted says why head rc, whose newest record is newest, cannot be
// extended ("" when it can): it must be the partner's, hold a chained record
// of its sequence and digest, and carry the controller's seal.
func (c *Chain) untrusted(rc *v1alpha1.RecordChain, newest *recordsv1alpha1.DecisionRecord, partner string) string {
	s := rc.Spec
	switch {
	case s.Partner != partner || newest.Spec.Partner != partner:
		return fmt.Sprintf("RecordChain %s/%s is not partner %s's", rc.Namespace, rc.Name, partner)
	case newest.Spec.Chain == nil || newest.Spec.Chain.Sequence != s.Sequence || newest.Spec.Chain.Digest != s.Digest || record.Digest(newest) != s.Digest:
		return fmt.Sprintf("RecordChain %s/%s: its newest record %s is not the one its sequence and digest name", rc.Namespace, rc.Name, newest.Name)
	case !c.Seals.Verify(s.Seal, seal.ChainHead(rc.Namespace, s)...):
		return fmt.Sprintf("RecordChain %s/%s is not sealed by the controller", rc.Namespace, rc.Name)
	}
	return ""
}

// resumeBatch is the page size of the records a chain resumes from.
const resumeBatch = 500

// resume is the head after the newest chained record partner has in
// namespace (an empty head when it has none), with the newest tier decision
// recorded among them, at resourceVersion. It lists the partner's records:
// that happens once for a partner's first record, and when a head was lost.
func (c *Chain) resume(ctx context.Context, namespace, partner, resourceVersion string) (*knownHead, error) {
	opts := []client.ListOption{client.InNamespace(namespace), client.Limit(resumeBatch)}
	if len(validation.IsValidLabelValue(partner)) == 0 {
		opts = append(opts, client.MatchingLabels{record.LabelPartner: partner})
	}
	var newest, tierChange *recordsv1alpha1.DecisionRecord
	for cont := ""; ; {
		var list recordsv1alpha1.DecisionRecordList
		if err := c.Reader.List(ctx, &list, append(opts, client.Continue(cont))...); err != nil {
			return nil, fmt.Errorf("listing the records of partner %s in %s to resume its chain: %w", partner, namespace, err)
		}
		tierChange = newerTierChange(tierChange, list.Items, partner)
		mine := list.Items[:0]
		for _, r := range list.Items {
			if r.Spec.Partner == partner {
				mine = append(mine, r)
			}
		}
		if n := record.Newest(mine); n != nil && (newest == nil || n.Spec.Chain.Sequence > newest.Spec.Chain.Sequence) {
			newest = n.DeepCopy()
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	known := &knownHead{resourceVersion: resourceVersion}
	if tierChange != nil {
		known.tierChange = recordedDecision(tierChange)
	}
	if newest != nil {
		known.head = record.HeadOf(newest)
		known.head.Newest = nil // stored: nothing to create
	}
	return known, nil
}

// createRecord creates DecisionRecord rec; a create refused as AlreadyExists
// is success: a record's name is fixed by the decision it records.
// ensureRecord creates rec, a record a head names, when it is not stored.
func (c *Chain) ensureRecord(ctx context.Context, rec *recordsv1alpha1.DecisionRecord) error {
	existing := &metav1.PartialObjectMetadata{}
	existing.SetGroupVersionKind(recordsv1alpha1.GroupVersion.WithKind("DecisionRecord"))
	switch err := c.Reader.Get(ctx, client.ObjectKeyFromObject(rec), existing); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return err
	}
	return createRecord(ctx, c.Client, rec.DeepCopy())
}

func createRecord(ctx context.Context, c client.Client, rec *recordsv1alpha1.DecisionRecord) error {
	// A namespace being deleted takes its records with it; one it refuses to
	// hold is not lost, and retrying would only fail again until it is gone.
	if err := timedCreate(ctx, c, rec); err != nil && !apierrors.IsAlreadyExists(err) &&
		!apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return err
	}
	return nil
}

// timedCreate creates rec in the records store, timing the round trip
// (partnergov_record_create_duration_seconds).
func timedCreate(ctx context.Context, c client.Client, rec *recordsv1alpha1.DecisionRecord) error {
	start := time.Now()
	err := c.Create(ctx, rec)
	result := "created"
	switch {
	case apierrors.IsAlreadyExists(err):
		result = "exists"
	case err != nil:
		result = "error"
	}
	recordCreateSeconds.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return err
}

// errNameTaken is a record name held by a record of another decision.
var errNameTaken = errors.New("the record's name is taken by a record of another decision")

// nameTaken reports that rec's name holds stored, a record of another
// decision: someone who could write records took the name of a decision to
// come. rec is not recorded; the chain and its head are left as they are, so
// `history --verify` names the record that stands in its place.
func (c *Chain) nameTaken(ctx context.Context, rec, stored *recordsv1alpha1.DecisionRecord) error {
	msg := fmt.Sprintf("record %s/%s holds another decision (%s %s -> %s by %s at %s) than the one to record (%s %s -> %s by %s at %s): it was written past the controller; the decision is not recorded (kubectl partnergov history %s --verify)",
		rec.Namespace, rec.Name, stored.Spec.Type, stored.Spec.From, stored.Spec.To, stored.Spec.Actor, stored.Spec.Time.UTC().Format(time.RFC3339),
		rec.Spec.Type, rec.Spec.From, rec.Spec.To, rec.Spec.Actor, rec.Spec.Time.UTC().Format(time.RFC3339), rec.Spec.Partner)
	if c.Events != nil {
		c.Events.Eventf(stored, nil, corev1.EventTypeWarning, "RecordNameTaken", "Record", "%s", msg)
	}
	return fmt.Errorf("%w: %s", errNameTaken, msg)
}

// createChained creates next, whose place the head now holds. A record
// already under its name must be next itself (a retry): anything else took the
// name while the head was written, and the head now names a record the store
// does not hold, which `history --verify` names.
func (c *Chain) createChained(ctx context.Context, next *recordsv1alpha1.DecisionRecord) error {
	err := timedCreate(ctx, c.Client, next)
	switch {
	case err == nil, apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil
	case !apierrors.IsAlreadyExists(err):
		return err
	}
	stored := &recordsv1alpha1.DecisionRecord{}
	if err := c.Reader.Get(ctx, client.ObjectKeyFromObject(next), stored); err != nil {
		// A name the store says is taken and then has no record under: the
		// names were written past the records (the records database).
		return fmt.Errorf("%w: record %s/%s exists and cannot be read: %v", errNameTaken, next.Namespace, next.Name, err)
	}
	if stored.Spec.Chain == nil || stored.Spec.Chain.Digest != next.Spec.Chain.Digest {
		return c.nameTaken(ctx, next, stored)
	}
	return nil
}

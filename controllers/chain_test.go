package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/test/testenv"
)

// Tamper evidence: every record of a partner is chained, under a sealed head.

// managerClient is an uncached client with the manager's identity (its RBAC,
// and the webhooks it skips or passes).
func managerClient(t *testing.T, g Gomega) client.Client {
	cfg, err := env.UserConfig(testenv.ManagerUser)
	g.Expect(err).NotTo(HaveOccurred())
	return newClient(t, cfg)
}

// newChain is a Chain as a manager has one, writing through c.
func newChain(c client.Client) *controllers.Chain {
	return &controllers.Chain{Client: c, Reader: c, Seals: testenv.TestSeals, Clock: clock.RealClock{}}
}

// outcomeRecord is a record of a request outcome of partner in ns, named name.
func outcomeRecord(ns, partner, name string) *recordsv1alpha1.DecisionRecord {
	at := time.Now()
	return &recordsv1alpha1.DecisionRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{record.LabelPartner: partner}},
		Spec: recordsv1alpha1.DecisionRecordSpec{
			Type: recordsv1alpha1.DecisionRequestOutcome, Partner: partner, Program: "global",
			Subject: recordsv1alpha1.DecisionSubject{Kind: "ExceptionRequest", Name: name},
			Time:    metav1.NewTime(at), Actor: controllers.FieldOwner, Reason: "Approved", To: "Approved", Request: name,
			RetainUntil: metav1.NewTime(at.Add(24 * time.Hour)),
		},
	}
}

// verifyChain verifies partner's records in ns as `history --verify` does.
func verifyChain(g Gomega, ns, partner string) record.Verification {
	v, err := plugin.VerifyHistory(ctx, admin, types.NamespacedName{Namespace: ns, Name: partner}, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	return v
}

// sequences are the chain sequences of partner's stored records, in order.
func sequences(g Gomega, ns, partner string) []int64 {
	records, err := plugin.History(ctx, admin, types.NamespacedName{Namespace: ns, Name: partner})
	g.Expect(err).NotTo(HaveOccurred())
	var out []int64
	for _, r := range records {
		g.Expect(r.Spec.Chain).NotTo(BeNil(), "record %s is not chained", r.Name)
		out = append(out, r.Spec.Chain.Sequence)
	}
	slices.Sort(out)
	return out
}

// TestConcurrentRecordersLeaveOneChain: two managers' Chains (a failover, the
// old leader still finishing) record one partner's decisions from many
// goroutines at once, every decision through both: each decision is recorded
// once, the sequences run 1..n without a gap or a repeat, and the chain
// verifies against its head.
func TestConcurrentRecordersLeaveOneChain(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	partner := uniqueName("acme")
	c := managerClient(t, g)
	chains := []*controllers.Chain{newChain(c), newChain(c)}
	const decisions, workers = 40, 8
	// One decision is one record, whoever records it (same name, same time).
	recs := make([]*recordsv1alpha1.DecisionRecord, decisions)
	for i := range recs {
		recs[i] = outcomeRecord(ns, partner, fmt.Sprintf("%s-q%d", partner, i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*decisions)
	for _, chain := range chains {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < decisions; i += workers {
					if err := chain.Record(ctx, recs[i].DeepCopy()); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := make([]int64, decisions)
	for i := range want {
		want[i] = int64(i + 1)
	}
	g.Expect(sequences(g, ns, partner)).To(Equal(want), "one place per decision, no gap, no fork")
	v := verifyChain(g, ns, partner)
	g.Expect(v.Findings).To(BeEmpty())
	g.Expect(v.Chained).To(Equal(decisions))
	g.Expect(v.HeadSequence).To(BeEquivalentTo(decisions))
}

// TestACrashAfterTheHeadLeavesNoGap: a manager that wrote the head and
// crashed before creating the record leaves the record in the head; the
// partner's next record, from another manager, creates it first, in its
// place, and recording it again claims no second place.
func TestACrashAfterTheHeadLeavesNoGap(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	partner := uniqueName("acme")
	cfg, err := env.UserConfig(testenv.ManagerUser)
	g.Expect(err).NotTo(HaveOccurred())
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: app.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	crashing := interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*recordsv1alpha1.DecisionRecord); ok {
				return errors.New("the manager crashed")
			}
			return c.Create(ctx, obj, opts...)
		},
	})
	first := outcomeRecord(ns, partner, partner+"-first")
	g.Expect(newChain(crashing).Record(ctx, first)).To(MatchError(ContainSubstring("the manager crashed")))
	g.Expect(sequences(g, ns, partner)).To(BeEmpty())
	v := verifyChain(g, ns, partner)
	g.Expect(v.Findings).To(BeEmpty(), "the head holds the record written ahead")
	g.Expect(v.Notes).To(ContainElement(ContainSubstring("is held by the head and not stored")))

	other := newChain(c)
	g.Expect(other.Record(ctx, outcomeRecord(ns, partner, partner+"-second"))).To(Succeed())
	g.Expect(other.Record(ctx, outcomeRecord(ns, partner, partner+"-first"))).To(Succeed())
	g.Expect(newChain(c).Record(ctx, outcomeRecord(ns, partner, partner+"-second"))).To(Succeed())
	g.Expect(sequences(g, ns, partner)).To(Equal([]int64{1, 2}))
	var stored recordsv1alpha1.DecisionRecord
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(first), &stored)).To(Succeed())
	g.Expect(stored.Spec.Chain.Sequence).To(BeEquivalentTo(1))
	v = verifyChain(g, ns, partner)
	g.Expect(v.Findings).To(BeEmpty())
	g.Expect(v.HeadSequence).To(BeEquivalentTo(2))
}

// TestAnUnsealedHeadIsNotFollowed: a RecordChain written without the
// controller's seal (past the webhooks) is not extended, and the record it
// holds is not created: the chain resumes after the newest stored record, and
// the head is sealed again.
func TestAnUnsealedHeadIsNotFollowed(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	partner := uniqueName("acme")
	c := managerClient(t, g)
	chain := newChain(c)
	g.Expect(chain.Record(ctx, outcomeRecord(ns, partner, partner+"-q1"))).To(Succeed())

	// A forger who can write the head (here with the manager's identity, which
	// the webhook lets through) makes it hold a record of its own, far ahead.
	var rc v1alpha1.RecordChain
	g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: ns, Name: record.ChainName(partner)}, &rc)).To(Succeed())
	forged := outcomeRecord(ns, partner, partner+"-forged")
	forged.Spec.Actor = "mallory@example.com"
	record.Link(forged, record.Head{Sequence: 41, Digest: rc.Spec.Digest})
	rc.Spec.Sequence, rc.Spec.Digest = 42, forged.Spec.Chain.Digest
	rc.Spec.Newest = v1alpha1.ChainedRecord{Name: forged.Name, Labels: forged.Labels, Spec: forged.Spec}
	g.Expect(c.Update(ctx, &rc)).To(Succeed())

	g.Expect(newChain(c).Record(ctx, outcomeRecord(ns, partner, partner+"-q2"))).To(Succeed())
	err := admin.Get(ctx, client.ObjectKeyFromObject(forged), &recordsv1alpha1.DecisionRecord{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the forged record was created: %v", err)
	g.Expect(sequences(g, ns, partner)).To(Equal([]int64{1, 2}))
	v := verifyChain(g, ns, partner)
	g.Expect(v.Findings).To(BeEmpty())
	g.Expect(v.HeadSequence).To(BeEquivalentTo(2))
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(&rc), &rc)).To(Succeed())
	g.Expect(testenv.TestSeals.Verify(rc.Spec.Seal, seal.Chain(ns, partner, 2, rc.Spec.Digest)...)).To(BeTrue(), "the head is sealed again")
}

// TestOnlyTheControllerWritesRecordChains: nobody but the controller creates,
// changes or deletes a RecordChain, cluster admins included.
func TestOnlyTheControllerWritesRecordChains(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	partner := uniqueName("acme")
	g.Expect(newChain(managerClient(t, g)).Record(ctx, outcomeRecord(ns, partner, partner+"-q1"))).To(Succeed())
	var rc v1alpha1.RecordChain
	g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: ns, Name: record.ChainName(partner)}, &rc)).To(Succeed())

	forged := rc.DeepCopy()
	forged.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: "initech"}
	forged.Spec.Partner = "initech"
	changed := rc.DeepCopy()
	changed.Spec.Sequence = 7
	for name, write := range map[string]func() error{
		"create": func() error { return admin.Create(ctx, forged) },
		"update": func() error { return admin.Update(ctx, changed) },
		"delete": func() error { return admin.Delete(ctx, rc.DeepCopy()) },
	} {
		err := write()
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%s: got %v", name, err)
		g.Expect(err.Error()).To(ContainSubstring("only the partnergov controller writes RecordChains"), name)
	}
}

// withoutValidatingWebhooks removes the named validating webhooks, as an
// uninstall or a changed failure policy would, until the test ends.
func withoutValidatingWebhooks(t *testing.T, g Gomega, names ...string) {
	var list admissionregistrationv1.ValidatingWebhookConfigurationList
	g.Expect(admin.List(ctx, &list)).To(Succeed())
	for i := range list.Items {
		vwc := &list.Items[i]
		before := vwc.DeepCopy()
		vwc.Webhooks = slices.DeleteFunc(slices.Clone(vwc.Webhooks), func(w admissionregistrationv1.ValidatingWebhook) bool {
			return slices.Contains(names, w.Name)
		})
		if len(vwc.Webhooks) == len(before.Webhooks) {
			continue
		}
		g.Expect(admin.Update(ctx, vwc)).To(Succeed())
		t.Cleanup(func() {
			var now admissionregistrationv1.ValidatingWebhookConfiguration
			if err := admin.Get(context.Background(), client.ObjectKeyFromObject(before), &now); err == nil {
				now.Webhooks = before.Webhooks
				_ = admin.Update(context.Background(), &now)
			}
			time.Sleep(time.Second) // the API server's webhook configuration follows after a moment
		})
	}
	time.Sleep(time.Second)
}

// TestTheChainNamesAnAlteredRecord: the records two controllers make for one
// partner (its tier changes, and a request's stage decisions and outcome)
// form one chain, which `kubectl partnergov history --verify` verifies. With
// the records webhook gone, an admin replaces one record with an altered copy
// and deletes another: --verify names both and fails.
func TestTheChainNamesAnAlteredRecord(t *testing.T) {
	g := NewWithT(t)
	f, _, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	bob := reviewer(t, "bob@example.com", f.path, "finance")
	qualifyForSelect(t, g, f.partner)
	r := f.ask(g, claimSpec())
	g.Expect(decide(alice, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())
	g.Expect(decide(bob, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(selectTier))
		g.Expect(recordsOf(g, f.partner)).To(HaveLen(5)) // 2 tier changes, 2 stage decisions, 1 outcome
		g.Expect(sequences(g, f.ns, f.partner.Name)).To(Equal([]int64{1, 2, 3, 4, 5}))
	}).Should(Succeed())

	run := pluginAs(t, g, uniqueName("auditor")+"@example.com", nil,
		readRule([]string{"get", "list"}, "decisionrecords"), readRule([]string{"get"}, "recordchains"))
	out, err := run("history", f.partner.Name, "-n", f.ns, "--verify")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("chain verified: 5 records, head sequence 5"))

	bySeq := map[int64]recordsv1alpha1.DecisionRecord{}
	for _, rec := range recordsOf(g, f.partner) {
		bySeq[rec.Spec.Chain.Sequence] = rec
	}
	withoutValidatingWebhooks(t, g, "vdecisionrecord.records.partnergov.io")
	altered := bySeq[2]
	g.Expect(admin.Delete(ctx, &altered)).To(Succeed())
	altered = recordsv1alpha1.DecisionRecord{ObjectMeta: metav1.ObjectMeta{Namespace: altered.Namespace, Name: altered.Name, Labels: altered.Labels}, Spec: altered.Spec}
	altered.Spec.Actor = "mallory@example.com"
	g.Expect(admin.Create(ctx, &altered)).To(Succeed())
	deleted := bySeq[4]
	g.Expect(admin.Delete(ctx, &deleted)).To(Succeed())

	out, err = run("history", f.partner.Name, "-n", f.ns, "--verify")
	g.Expect(err).To(MatchError(ContainSubstring("has 2 finding(s)")), out)
	g.Expect(out).To(ContainSubstring(fmt.Sprintf("altered: record %s (sequence 2) does not match its digest", altered.Name)))
	g.Expect(out).To(ContainSubstring(fmt.Sprintf("gap: sequence 4 missing between record %s (sequence 3) and record %s (sequence 5)",
		bySeq[3].Name, bySeq[5].Name)))
	g.Expect(strings.Count(out, "\n  ")).To(Equal(2), out)
}

// TestANameTakenByAnotherDecisionIsNotTakenAsRecorded: record names follow
// from the decisions, so someone who can write records (past the webhooks, or
// in the records database) can put a record of their own under the name of a
// decision to come. When the decision comes, the name is taken by a record of
// another decision: the controller says so and records nothing, instead of
// taking the forgery as the decision recorded.
func TestANameTakenByAnotherDecisionIsNotTakenAsRecorded(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	partner := uniqueName("acme")
	c := managerClient(t, g)
	chain := newChain(c)
	g.Expect(chain.Record(ctx, outcomeRecord(ns, partner, partner+"-q0"))).To(Succeed())

	real := outcomeRecord(ns, partner, partner+"-q1")
	forged := real.DeepCopy()
	forged.Spec.Reason, forged.Spec.To, forged.Spec.Message = "Denied", "Denied", "denied by the partner manager"
	g.Expect(c.Create(ctx, forged)).To(Succeed())

	err := chain.Record(ctx, real)
	g.Expect(err).To(MatchError(ContainSubstring("taken by a record of another decision")))
	g.Expect(err).To(MatchError(And(ContainSubstring("-> Denied"), ContainSubstring("-> Approved"))))
	var stored recordsv1alpha1.DecisionRecord
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(real), &stored)).To(Succeed())
	g.Expect(stored.Spec.Reason).To(Equal("Denied"), "the forgery is left for history --verify to name")
	v := verifyChain(g, ns, partner)
	g.Expect(v.HeadSequence).To(BeEquivalentTo(1), "the head did not move for a decision that was not recorded")
	g.Expect(v.Unchained).To(ConsistOf(real.Name))

	// The same decision recorded before records were chained is recorded.
	before := outcomeRecord(ns, partner, partner+"-q2")
	g.Expect(c.Create(ctx, before.DeepCopy())).To(Succeed())
	g.Expect(chain.Record(ctx, before)).To(Succeed())
}

// recordCreates is how many record creates the manager's registry has timed
// with result.
func recordCreates(g Gomega, result string) uint64 {
	fams, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range fams {
		if f.GetName() != "partnergov_record_create_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// TestEveryRecordCreateIsTimed: each create a Chain sends to the records
// store is observed in partnergov_record_create_duration_seconds, by result,
// so an operator (and make bench) sees what a record costs its store.
func TestEveryRecordCreateIsTimed(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	chain := newChain(managerClient(t, g))
	created := recordCreates(g, "created")
	g.Expect(chain.Record(ctx, outcomeRecord(ns, "acme", "timed-1"))).To(Succeed())
	g.Expect(chain.Record(ctx, outcomeRecord(ns, "acme", "timed-2"))).To(Succeed())
	// At least: the suite's manager may record for other tests meanwhile.
	g.Expect(recordCreates(g, "created")).To(BeNumerically(">=", created+2), "each record created is timed")
}

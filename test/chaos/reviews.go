package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/test/harness"
)

// ReviewsConfig sizes CrashReviews.
type ReviewsConfig struct {
	Partners int
	// Requests per partner: funds and incentive exceptions, one in five denied.
	Requests int
	Kills    int
	// KillMin and KillMax bound how long the manager runs before each kill.
	KillMin, KillMax time.Duration
	Timeout          time.Duration
}

// The review path of CrashReviews: a manager approves, then two of finance (quorum 2).
const (
	reviewPath = "chaos-funds"
	requester  = "requester@example.com"
)

var (
	managerReviewer  = "alice@example.com"
	financeReviewers = []string{"bob@example.com", "carol@example.com"}
)

// plannedRequest is a request CrashReviews files and what the reviewers do with it.
type plannedRequest struct {
	name, partner string
	funds         bool
	amount        string
	approve       bool
	// notEntitled: a Funds request for a partner without the Funds entitlement
	// (suspended, or its tier has no cap); it must be denied NotEntitled and
	// never committed, whatever the reviewers would do.
	notEntitled bool
}

// The partners CrashReviews files Funds requests for that must never be funded.
const (
	suspendedPartner  = "suspended"
	unentitledPartner = "unentitled"
	noFundsProgram    = "chaos-no-funds"
)

// CrashReviews files funds requests and incentive exceptions that three reviewers
// decide (a manager stage, then a finance stage with quorum 2; one request in
// five denied by the manager) while the manager is SIGKILLed at random moments K
// times. At the end each reviewer decision is recorded exactly once, each request
// approved or denied once, every partner's committed funds equal the sum of its
// approved funds requests with one commitment each, and every approved
// exception's grant is on its partner.
func (e *Env) CrashReviews(ctx context.Context, c ReviewsConfig) Result {
	return runScenario(Result{Scenario: "crash: SIGKILL during reviews with funds effects",
		Size: fmt.Sprintf("%d requests, %d partners", c.Partners*c.Requests, c.Partners)}, func(r *Result) error {
		_, err := e.crashReviews(ctx, "chaos-reviews", c, r)
		return err
	})
}

// CrashRecords runs the reviews of CrashReviews in a namespace of its own, with
// their K SIGKILLs, and then counts the DecisionRecords: every reviewer decision
// and every request outcome must have exactly one record (none lost, none
// recorded twice), and every tier decision in a partner's history its record.
func (e *Env) CrashRecords(ctx context.Context, c ReviewsConfig) Result {
	return runScenario(Result{Scenario: "crash: SIGKILL while decisions are recorded",
		Size: fmt.Sprintf("%d requests, %d partners", c.Partners*c.Requests, c.Partners)}, func(r *Result) error {
		const ns = "chaos-records"
		var reviewRow Result
		plan, err := e.crashReviews(ctx, ns, c, &reviewRow)
		r.Kills = reviewRow.Kills
		if err != nil {
			return err
		}
		if reviewRow.DecisionsLost > 0 || reviewRow.Duplicated > 0 {
			return fmt.Errorf("the reviews themselves lost %d and duplicated %d decisions", reviewRow.DecisionsLost, reviewRow.Duplicated)
		}
		// The reviews' manager stopped as soon as every effect was applied, maybe
		// before the last outcomes were recorded: a new one starts from what is
		// stored and must record what is missing, once.
		m, err := e.startManager(ctx, "records")
		if err != nil {
			return err
		}
		defer m.Stop()
		if err := waitLeading(ctx, m, time.Minute); err != nil {
			return err
		}
		var last error
		check := func() error {
			lost, dups, n, err := e.verifyRecords(ctx, ns, plan)
			r.DecisionsLost, r.Duplicated = lost, dups
			if err == nil && lost > 0 {
				err = fmt.Errorf("%d decisions without a record", lost)
			}
			if err == nil {
				r.figure("%d records checked", n)
			}
			last = err
			return err
		}
		if err := eventually(ctx, c.Timeout, check); err != nil && r.DecisionsLost == 0 && r.Duplicated == 0 {
			return last
		}
		return nil
	})
}

// verifyRecords counts decisions without a record and decisions recorded more
// than once in namespace: reviewer decisions by (request, stage, reviewer),
// outcomes by (request, phase), tier decisions by (partner, time, from, to);
// and it verifies each partner's record chain (kubectl partnergov history --verify).
func (e *Env) verifyRecords(ctx context.Context, ns string, plan []plannedRequest) (lost, dups, checked int, err error) {
	var recs recordsv1alpha1.DecisionRecordList
	if err := e.Cluster.Admin.List(ctx, &recs, client.InNamespace(ns)); err != nil {
		return 0, 0, 0, err
	}
	count := map[string]int{}
	for _, rec := range recs.Items {
		s := rec.Spec
		switch s.Type {
		case recordsv1alpha1.DecisionStageDecision:
			count["decision/"+s.Request+"/"+s.Stage+"/"+s.Actor]++
		case recordsv1alpha1.DecisionRequestOutcome, recordsv1alpha1.DecisionGrantExpiry:
			count["outcome/"+s.Request+"/"+s.To]++
		case recordsv1alpha1.DecisionTierChange:
			count["tier/"+s.Partner+"/"+s.Time.UTC().Format(time.RFC3339)+"/"+s.From+"/"+s.To]++
		}
	}
	want := map[string]bool{}
	var list v1alpha1.ExceptionRequestList
	if err := e.Cluster.Admin.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return 0, 0, 0, err
	}
	for _, q := range list.Items {
		for _, d := range q.Status.Decisions {
			want["decision/"+q.Name+"/"+d.Stage+"/"+d.Reviewer] = true
		}
		if q.Status.Phase == v1alpha1.PhaseApproved || q.Status.Phase == v1alpha1.PhaseDenied {
			want["outcome/"+q.Name+"/"+string(q.Status.Phase)] = true
		}
	}
	partners, err := partnerList(ctx, e.Cluster.Admin, ns)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, p := range partners {
		for _, d := range p.Status.History {
			want["tier/"+p.Name+"/"+d.Time.UTC().Format(time.RFC3339)+"/"+d.From+"/"+d.To] = true
		}
	}
	for k := range want {
		if count[k] == 0 {
			lost++
		}
	}
	for _, n := range count {
		dups += max(n-1, 0)
	}
	if len(plan) > 0 && len(list.Items) < len(plan) {
		return lost, dups, len(want), fmt.Errorf("%d of %d requests filed", len(list.Items), len(plan))
	}
	// Each partner's records form one chain, whole: no gap, no fork.
	for _, p := range partners {
		v, err := plugin.VerifyHistory(ctx, e.Cluster.Admin, types.NamespacedName{Namespace: ns, Name: p.Name}, time.Now())
		if err != nil {
			return lost, dups, len(want), err
		}
		if !v.Verified() {
			return lost, dups, len(want), fmt.Errorf("the record chain of partner %s/%s: %s", ns, p.Name, v.Findings[0])
		}
	}
	return lost, dups, len(want), nil
}

func (e *Env) crashReviews(ctx context.Context, ns string, c ReviewsConfig, r *Result) ([]plannedRequest, error) {
	var plan []plannedRequest
	cl := e.Cluster
	g := v1alpha1.GroupVersion.Group
	requests := rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"exceptionrequests", "exceptionrequests/status"}, Verbs: []string{"get", "patch"}}
	approve := func(stage string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"reviewpaths"}, ResourceNames: []string{reviewPath + "." + stage}, Verbs: []string{"approve"}}
	}
	asker, err := e.user(ctx, requester, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"exceptionrequests"}, Verbs: []string{"create", "get"}})
	if err != nil {
		return plan, err
	}
	alice, err := e.user(ctx, managerReviewer, requests, approve("manager"))
	if err != nil {
		return plan, err
	}
	var finance []client.Client
	for _, name := range financeReviewers {
		f, err := e.user(ctx, name, requests, approve("finance"))
		if err != nil {
			return plan, err
		}
		finance = append(finance, f)
	}
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: reviewPath}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo: v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestFunds, v1alpha1.RequestIncentiveException}},
		Stages: []v1alpha1.ReviewStage{
			{Name: "manager", Quorum: 1, SLA: metav1.Duration{Duration: 24 * time.Hour}, OnTimeout: v1alpha1.TimeoutEscalate},
			{Name: "finance", Quorum: 2, SLA: metav1.Duration{Duration: 24 * time.Hour}, OnTimeout: v1alpha1.TimeoutDeny},
		},
		EscalationOwner: "vp-partnerships@example.com",
	}}

	m, err := e.startManager(ctx, "reviews")
	if err != nil {
		return plan, err
	}
	defer m.Stop()
	if err := waitLeading(ctx, m, time.Minute); err != nil {
		return plan, err
	}
	if err := client.IgnoreAlreadyExists(cl.Admin.Create(ctx, path)); err != nil {
		return plan, err
	}
	// Partners at the entry tier (no evidence), which grants the funds cap.
	if err := cl.Namespace(ctx, ns); err != nil {
		return plan, err
	}
	if err := cl.CreatePartners(ctx, ns, c.Partners, 8); err != nil {
		return plan, err
	}
	if err := eventually(ctx, 2*time.Minute, func() error {
		ps, err := partnerList(ctx, cl.Admin, ns)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Status.Funds == nil || p.Status.Funds.Cap == nil {
				return fmt.Errorf("partner %s has no funds cap yet", p.Name)
			}
		}
		return nil
	}); err != nil {
		return plan, err
	}

	if err := e.createUnentitled(ctx, ns); err != nil {
		return plan, err
	}

	for i := range c.Partners {
		for j := range c.Requests {
			n := len(plan)
			plan = append(plan, plannedRequest{
				name: fmt.Sprintf("req-%05d-%02d", i, j), partner: harness.PartnerName(i),
				funds: j%2 == 0, amount: strconv.Itoa(1000 + n), approve: n%5 != 4,
			})
		}
	}
	for _, partner := range []string{suspendedPartner, unentitledPartner} {
		for j := range max(1, c.Requests/2) {
			plan = append(plan, plannedRequest{name: fmt.Sprintf("req-%s-%02d", partner, j), partner: partner,
				funds: true, amount: "100", approve: true, notEntitled: true})
		}
	}

	// The kills run while the requests are filed and decided.
	k := &Killer{env: e, m: m, Min: c.KillMin, Max: c.KillMax}
	var reviewing sync.WaitGroup
	var mu sync.Mutex
	done := 0
	k.During = func() bool { mu.Lock(); defer mu.Unlock(); return done < len(plan) }
	killed := make(chan error, 1)
	go func() { killed <- k.Run(ctx, c.Kills) }()
	// Requests are filed spread over the kills' expected span, so that kills
	// land while reviews are open rather than after they all ended.
	spacing := time.Duration(c.Kills) * ((c.KillMin+c.KillMax)/2 + time.Second) / time.Duration(len(plan))
	began := time.Now()
	reviewing.Add(1)
	var reviewErr error
	go func() {
		defer reviewing.Done()
		reviewErr = harness.Parallel(ctx, len(plan), 8, func(ctx context.Context, i int) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(began.Add(time.Duration(i) * spacing))):
			}
			err := e.fileAndDecide(ctx, ns, plan[i], asker, alice, finance, c.Timeout)
			mu.Lock()
			done++
			mu.Unlock()
			return err
		})
	}()
	reviewing.Wait()
	if err := <-killed; err != nil {
		return plan, err
	}
	if reviewErr != nil {
		return plan, reviewErr
	}
	kills, during := k.Kills()
	r.Kills = kills
	r.figure("%d of %d kills while reviews were open", during, kills)
	if during == 0 {
		r.fail("no kill hit the reviews")
	}

	// Every request reaches its end and every effect is applied; then count.
	var last error
	check := func() error {
		lost, dups, err := e.verifyReviews(ctx, ns, plan)
		r.DecisionsLost, r.Duplicated = lost, dups
		if err == nil && lost > 0 {
			err = fmt.Errorf("%d decisions or effects missing", lost)
		}
		last = err
		return err
	}
	if err := eventually(ctx, c.Timeout, check); err != nil && r.DecisionsLost == 0 && r.Duplicated == 0 {
		return plan, last
	}
	approved, committed, refused := 0, 0, 0
	for _, p := range plan {
		if p.notEntitled {
			refused++
			continue
		}
		if p.approve {
			approved++
			if p.funds {
				committed++
			}
		}
	}
	r.figure("%d approved (%d funds commitments), %d denied; %d funds requests for suspended or unentitled partners denied NotEntitled, none committed",
		approved, committed, len(plan)-approved-refused, refused)
	return plan, nil
}

// createUnentitled creates a suspended partner of the load's program (whose tiers
// grant a funds cap) and a partner of a program whose only tier grants none.
func (e *Env) createUnentitled(ctx context.Context, ns string) error {
	cl := e.Cluster
	objs := []client.Object{
		&v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: noFundsProgram}, Spec: v1alpha1.PartnerProgramSpec{
			Owner: "chaos@example.com",
			Metrics: []v1alpha1.MetricDefinition{{Name: "revenue", Class: v1alpha1.MetricClassOutcome, Unit: "USD",
				FreshnessWindow: metav1.Duration{Duration: 90 * 24 * time.Hour}, TrustedReporters: v1alpha1.Identities{Groups: []string{harness.ReporterGroup}}}},
		}},
		&v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: noFundsProgram + "-entry"}, Spec: v1alpha1.PartnerTierSpec{
			Program: noFundsProgram, Entitlements: v1alpha1.Entitlements{Resell: true}}},
		&v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: suspendedPartner},
			Spec: v1alpha1.PartnerSpec{Program: harness.Program, Type: v1alpha1.PartnerTypeGSI, Owner: "owner@example.com", Suspended: true}},
		&v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: unentitledPartner},
			Spec: v1alpha1.PartnerSpec{Program: noFundsProgram, Type: v1alpha1.PartnerTypeGSI, Owner: "owner@example.com"}},
	}
	for _, o := range objs {
		if err := retry(ctx, time.Minute, func() error {
			return client.IgnoreAlreadyExists(cl.Admin.Create(ctx, o.DeepCopyObject().(client.Object)))
		}); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// fileAndDecide files one request as the requester and has the reviewers decide
// it, retrying through the manager's deaths (the webhooks fail closed meanwhile).
// A retry first looks whether the earlier attempt landed, as a careful client does.
func (e *Env) fileAndDecide(ctx context.Context, ns string, p plannedRequest, asker, alice client.Client, finance []client.Client, timeout time.Duration) error {
	req := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.name}, Spec: v1alpha1.ExceptionRequestSpec{
		Partner: p.partner, ReviewPath: reviewPath, Justification: "co-marketing for the chaos quarter, well justified",
	}}
	if p.funds {
		req.Spec.Type = v1alpha1.RequestFunds
		req.Spec.Amount = &v1alpha1.Money{Amount: v1alpha1.Decimal(p.amount), Currency: "USD"}
	} else {
		req.Spec.Type = v1alpha1.RequestIncentiveException
		req.Spec.Grant = &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement}}
		exp := metav1.NewTime(time.Now().Add(24 * time.Hour).Truncate(time.Second))
		req.Spec.Expires = &exp
	}
	if err := retry(ctx, timeout, func() error {
		return client.IgnoreAlreadyExists(asker.Create(ctx, req.DeepCopy()))
	}); err != nil {
		return fmt.Errorf("filing %s: %w", p.name, err)
	}
	if p.notEntitled {
		return nil // denied before any stage: there is nothing to decide
	}
	key := client.ObjectKeyFromObject(req)
	verdict := v1alpha1.DecisionApprove
	if !p.approve {
		verdict = v1alpha1.DecisionDeny
	}
	if err := decideOnce(ctx, alice, managerReviewer, key, "manager", verdict, timeout); err != nil {
		return err
	}
	if !p.approve {
		return nil
	}
	for i, f := range finance {
		if err := decideOnce(ctx, f, financeReviewers[i], key, "finance", v1alpha1.DecisionApprove, timeout); err != nil {
			return err
		}
	}
	return nil
}

// decideOnce waits until the request waits on stage and records the reviewer's
// decision there, unless an earlier attempt already did.
func decideOnce(ctx context.Context, c client.Client, reviewer string, key client.ObjectKey, stage string, verdict v1alpha1.DecisionVerdict, timeout time.Duration) error {
	return retry(ctx, timeout, func() error {
		var req v1alpha1.ExceptionRequest
		if err := c.Get(ctx, key, &req); err != nil {
			return err
		}
		for _, d := range req.Status.Decisions {
			if d.Reviewer == reviewer && d.Stage == stage {
				return nil
			}
		}
		if req.Status.CurrentStage != stage {
			return fmt.Errorf("%s waits on stage %q, not %q", key, req.Status.CurrentStage, stage)
		}
		_, err := plugin.Decide(ctx, c, key, stage, verdict, "reviewed during the chaos run")
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			return errors.Join(err, errors.New("refused")) // e.g. the stage moved on meanwhile: look again
		}
		return err
	})
}

// verifyReviews counts missing and duplicated decisions and effects. It returns
// an error while a request has not reached its end.
func (e *Env) verifyReviews(ctx context.Context, ns string, plan []plannedRequest) (lost, dups int, err error) {
	var list v1alpha1.ExceptionRequestList
	if err := e.Cluster.Admin.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return 0, 0, err
	}
	reqs := map[string]*v1alpha1.ExceptionRequest{}
	for i := range list.Items {
		reqs[list.Items[i].Name] = &list.Items[i]
	}
	partners, err := partnerList(ctx, e.Cluster.Admin, ns)
	if err != nil {
		return 0, 0, err
	}
	type expect struct {
		commitments map[string]bool
		sum         v1alpha1.Decimal
	}
	want := map[string]*expect{}
	var pending error
	for _, p := range plan {
		req, ok := reqs[p.name]
		if !ok {
			lost++
			continue
		}
		if p.notEntitled {
			denied := meta.FindStatusCondition(req.Status.Conditions, v1alpha1.ConditionDenied)
			switch {
			case req.Status.Phase == v1alpha1.PhaseApproved:
				dups++ // funds approved for a partner no decision entitled to them
			case req.Status.Phase != v1alpha1.PhaseDenied || denied == nil || denied.Reason != v1alpha1.ReasonNotEntitled:
				pending = fmt.Errorf("request %s is %q, want Denied NotEntitled", p.name, req.Status.Phase)
				lost++
			}
			if partner := partners[p.partner]; partner != nil && partner.Status.Funds != nil {
				dups += len(partner.Status.Funds.Commitments) // any commitment is an effect no decision gave
			}
			continue
		}
		phase := v1alpha1.PhaseApproved
		decisions := map[string]int{managerReviewer + "/manager": 0}
		if p.approve {
			for _, f := range financeReviewers {
				decisions[f+"/finance"] = 0
			}
		} else {
			phase = v1alpha1.PhaseDenied
		}
		if req.Status.Phase != phase {
			pending = fmt.Errorf("request %s is %q, want %q", p.name, req.Status.Phase, phase)
			lost++
			continue
		}
		for _, d := range req.Status.Decisions {
			decisions[d.Reviewer+"/"+d.Stage]++
		}
		for _, n := range decisions {
			switch {
			case n == 0:
				lost++
			case n > 1:
				dups += n - 1
			}
		}
		ends := 0
		stages := map[string]int{}
		for _, h := range req.Status.History {
			switch h.Reason {
			case review.ReasonApproved, review.ReasonDenied:
				ends++
			case review.ReasonStageApproved:
				stages[h.Stage]++
			}
		}
		dups += max(ends-1, 0)
		for _, n := range stages {
			dups += max(n-1, 0)
		}
		partner := partners[p.partner]
		if partner == nil {
			lost++
			continue
		}
		if p.funds {
			w := want[p.partner]
			if w == nil {
				w = &expect{commitments: map[string]bool{}, sum: "0"}
				want[p.partner] = w
			}
			if p.approve {
				w.commitments[p.name] = true
				if w.sum, err = decimal.Sum(w.sum, v1alpha1.Decimal(p.amount)); err != nil {
					return 0, 0, err
				}
			}
			continue
		}
		grants := 0
		for _, g := range partner.Status.Grants {
			if g.Request == p.name {
				grants++
			}
		}
		switch {
		case p.approve && grants == 0:
			lost++
		case !p.approve && grants > 0:
			dups++ // an effect of a denied request
		case grants > 1:
			dups += grants - 1
		}
	}
	for name, w := range want {
		f := partners[name].Status.Funds
		if f == nil {
			if len(w.commitments) > 0 {
				lost += len(w.commitments)
			}
			continue
		}
		seen := map[string]int{}
		for _, c := range f.Commitments {
			seen[c.Request]++
		}
		for req, n := range seen {
			switch {
			case !w.commitments[req]:
				dups++ // committed without an approval
			case n > 1:
				dups += n - 1
			}
		}
		for req := range w.commitments {
			if seen[req] == 0 {
				lost++
			}
		}
		if c, err := decimal.Compare(f.Committed, w.sum); err != nil {
			return 0, 0, err
		} else if c != 0 && len(seen) == len(w.commitments) {
			// The commitments are right but the total is not.
			if c > 0 {
				dups++
			} else {
				lost++
			}
		}
	}
	return lost, dups, pending
}

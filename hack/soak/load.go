package main

// The soak's load: evidence at a steady rate, exception requests filed and
// decided by their reviewers, deal registrations registered, won, expired and
// deleted, listings created, versioned, deprecated and deleted. Every request
// goes through the API server and the manager's webhooks as the identity that
// makes it in a cluster; a failure nothing in the churn explains is counted
// as an error and its message kept.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/listing"
	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/test/harness"
)

// The soak's people and integrations, and its review path.
const (
	reviewPath  = "soak-funds"
	requester   = "requester@example.com"
	manager     = "alice@example.com"
	finance     = "bob@example.com"
	registrar   = "seller@example.com"
	crmReporter = "crm@example.com"
	portal      = "marketplace-portal@example.com"
	productLine = "soak"
	// winLabel marks the registrations the CRM reports won.
	winLabel = "soak.partnergov.io/win"
)

// load is the running load and its counters.
type load struct {
	cfg      config
	cl       *harness.Cluster
	ns       string
	tracker  *harness.Tracker
	reporter client.Client
	asker    client.Client
	alice    client.Client
	bob      client.Client
	seller   client.Client
	crm      client.Client
	lister   client.Client

	mu     sync.Mutex
	rank   []int
	seq    []int
	stride int

	evidenceSent, evidenceSkipped, tierChanges                         atomic.Int64
	requestsFiled, requestsDecided                                     atomic.Int64
	dealsRegistered, dealsWon, dealsExpired, dealsDeleted              atomic.Int64
	listingsCreated, listingsUpdated, listingsDeleted, retried, errors atomic.Int64

	errMu    sync.Mutex
	messages []string

	// flows are requests being filed and decided.
	flows sync.WaitGroup

	// live are the listings, oldest first; nextListing names the next one.
	live        []string
	nextListing int
	// deals the janitor has seen expire, flag or win.
	dealSeen map[string]string
}

// counts snapshots the counters.
func (l *load) counts() LoadCounts {
	return LoadCounts{
		EvidenceSent: l.evidenceSent.Load(), EvidenceSkipped: l.evidenceSkipped.Load(), TierChanges: l.tierChanges.Load(),
		RequestsFiled: l.requestsFiled.Load(), RequestsDecided: l.requestsDecided.Load(),
		DealsRegistered: l.dealsRegistered.Load(), DealsWon: l.dealsWon.Load(), DealsExpired: l.dealsExpired.Load(), DealsDeleted: l.dealsDeleted.Load(),
		ListingsCreated: l.listingsCreated.Load(), ListingsUpdated: l.listingsUpdated.Load(), ListingsDeleted: l.listingsDeleted.Load(),
		Retried: l.retried.Load(), Errors: l.errors.Load(),
	}
}

// maxMessages is how many error messages the report keeps.
const maxMessages = 50

// fail counts an unexpected error and keeps its message (the first maxMessages).
func (l *load) fail(format string, args ...any) {
	l.errors.Add(1)
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if len(l.messages) < maxMessages {
		l.messages = append(l.messages, time.Now().UTC().Format("15:04:05")+" "+fmt.Sprintf(format, args...))
	}
}

// errorMessages are the kept messages.
func (l *load) errorMessages() []string {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return append([]string(nil), l.messages...)
}

// users creates the load's identities with what RBAC grants each in a cluster.
func (l *load) users(ctx context.Context) error {
	g := v1alpha1.GroupVersion.Group
	rule := func(resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{g}, Resources: resources, Verbs: verbs}
	}
	reviewer := func(stage string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{
			rule([]string{"exceptionrequests", "exceptionrequests/status"}, "get", "patch"),
			{APIGroups: []string{g}, Resources: []string{"reviewpaths"}, ResourceNames: []string{reviewPath + "." + stage}, Verbs: []string{"approve"}},
		}
	}
	var err error
	for _, u := range []struct {
		c     *client.Client
		name  string
		rules []rbacv1.PolicyRule
	}{
		{&l.asker, requester, []rbacv1.PolicyRule{rule([]string{"exceptionrequests"}, "create", "get")}},
		{&l.alice, manager, reviewer("manager")},
		{&l.bob, finance, reviewer("finance")},
		{&l.seller, registrar, []rbacv1.PolicyRule{rule([]string{"dealregistrations"}, "create", "get", "delete")}},
		{&l.crm, crmReporter, []rbacv1.PolicyRule{rule([]string{"dealregistrations", "dealregistrations/status"}, "get", "patch")}},
		{&l.lister, portal, []rbacv1.PolicyRule{rule([]string{"listings"}, "create", "get", "update", "delete")}},
	} {
		if *u.c, err = l.cl.User(ctx, u.name, u.rules...); err != nil {
			return fmt.Errorf("user %s: %w", u.name, err)
		}
	}
	return nil
}

// program gives every tier a funds cap, sets the program's deal rules (auto
// approval, the CRM, a short protection so registrations expire during the
// soak) and creates the review path of the requests.
func (l *load) program(ctx context.Context) error {
	cl := l.cl
	for _, name := range harness.Tiers {
		var t v1alpha1.PartnerTier
		if err := cl.Admin.Get(ctx, client.ObjectKey{Name: name}, &t); err != nil {
			return err
		}
		t.Spec.Entitlements.FundsCapPerQuarter = &v1alpha1.Money{Amount: "1000000", Currency: "USD"}
		if err := cl.Admin.Update(ctx, &t); err != nil {
			return err
		}
	}
	var p v1alpha1.PartnerProgram
	if err := cl.Admin.Get(ctx, client.ObjectKey{Name: harness.Program}, &p); err != nil {
		return err
	}
	p.Spec.DealRegistration = &v1alpha1.DealRegistrationRules{
		Protection:   &metav1.Duration{Duration: l.cfg.protection},
		AutoApprove:  &v1alpha1.DealAutoApproval{MaxAmount: &v1alpha1.Money{Amount: "100000", Currency: "USD"}},
		CRMReporters: v1alpha1.Identities{Users: []string{crmReporter}},
	}
	if err := cl.Admin.Update(ctx, &p); err != nil {
		return err
	}
	return cl.Admin.Create(ctx, &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: reviewPath}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo: v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestFunds, v1alpha1.RequestIncentiveException}},
		Stages: []v1alpha1.ReviewStage{
			{Name: "manager", Quorum: 1, SLA: metav1.Duration{Duration: 24 * time.Hour}, OnTimeout: v1alpha1.TimeoutEscalate},
			{Name: "finance", Quorum: 1, SLA: metav1.Duration{Duration: 24 * time.Hour}, OnTimeout: v1alpha1.TimeoutDeny},
		},
		EscalationOwner: "vp-partnerships@example.com",
	}})
}

// every calls f(k) for k = 0, 1, ... every period until stop is done.
func every(stop context.Context, period time.Duration, f func(k int)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for k := 0; ; k++ {
		select {
		case <-stop.Done():
			return
		case <-t.C:
		}
		f(k)
	}
}

// evidence reports evidence at cfg.rate a second, spread over the partners
// (each partner every n/rate seconds): every cfg.tierEvery-th report moves the
// partner up a tier (the top wraps to the bottom), the others change a
// metric no tier requires. The senders are cfg.loadWorkers; a tick that finds
// them a second behind is skipped and counted.
func (l *load) evidence(ctx, stop context.Context) {
	jobs := make(chan int, l.cfg.rate) // a second of backlog absorbs a short stall
	var wg sync.WaitGroup
	for range l.cfg.loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				l.report(ctx, k)
			}
		}()
	}
	every(stop, time.Second/time.Duration(l.cfg.rate), func(k int) {
		select {
		case jobs <- k:
		default:
			l.evidenceSkipped.Add(1)
		}
	})
	close(jobs)
	wg.Wait()
}

// report sends the k-th evidence report.
func (l *load) report(ctx context.Context, k int) {
	i := k * l.stride % l.cfg.partners
	move := l.cfg.tierEvery > 0 && k%l.cfg.tierEvery == l.cfg.tierEvery-1
	name := harness.PartnerName(i)
	l.mu.Lock()
	l.seq[i]++
	if move {
		l.rank[i] = (l.rank[i] + 1) % len(harness.Tiers)
	}
	rank, seq := l.rank[i], l.seq[i]
	l.mu.Unlock()
	if move {
		l.tracker.Expect(name, harness.Tiers[rank], time.Now())
	}
	if err := harness.ReportEvidence(ctx, l.reporter, l.ns, name, rank, seq); err != nil {
		if ctx.Err() == nil {
			l.fail("evidence for %s: %v", name, err)
		}
		return
	}
	l.evidenceSent.Add(1)
	if move {
		l.tierChanges.Add(1)
	}
}

// requests files a request every cfg.requestEvery, each decided by its
// reviewers in its own flow.
func (l *load) requests(ctx, stop context.Context) {
	every(stop, l.cfg.requestEvery, func(k int) {
		l.flows.Add(1)
		go func() {
			defer l.flows.Done()
			if err := l.request(ctx, k); err != nil && ctx.Err() == nil {
				l.fail("%v", err)
			}
		}()
	})
}

// request files request k as the requester: funds for an even k, an incentive
// exception (a grant that expires within the soak) for an odd one; the manager
// stage denies one in five, else finance approves. It returns when the request
// is seen decided the way its reviewers decided it.
func (l *load) request(ctx context.Context, k int) error {
	name := fmt.Sprintf("req-%06d", k)
	req := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: name}, Spec: v1alpha1.ExceptionRequestSpec{
		Partner: harness.PartnerName((k*l.stride + 13) % l.cfg.partners), ReviewPath: reviewPath,
		Justification: "co-marketing for the soak quarter, well justified",
	}}
	if k%2 == 0 {
		req.Spec.Type = v1alpha1.RequestFunds
		req.Spec.Amount = &v1alpha1.Money{Amount: v1alpha1.Decimal(strconv.Itoa(1000 + k%500)), Currency: "USD"}
	} else {
		req.Spec.Type = v1alpha1.RequestIncentiveException
		req.Spec.Grant = &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement}}
		exp := metav1.NewTime(time.Now().Add(l.cfg.grantFor).Truncate(time.Second))
		req.Spec.Expires = &exp
	}
	if err := l.asker.Create(ctx, req); err != nil {
		return fmt.Errorf("filing %s: %w", name, err)
	}
	l.requestsFiled.Add(1)
	key := client.ObjectKeyFromObject(req)
	approve := k%5 != 4
	verdict, want := v1alpha1.DecisionApprove, v1alpha1.PhaseApproved
	if !approve {
		verdict, want = v1alpha1.DecisionDeny, v1alpha1.PhaseDenied
	}
	if err := l.decide(ctx, l.alice, key, "manager", verdict); err != nil {
		return err
	}
	if approve {
		if err := l.decide(ctx, l.bob, key, "finance", v1alpha1.DecisionApprove); err != nil {
			return err
		}
	}
	var got v1alpha1.ExceptionRequest
	err := l.poll(ctx, func() (bool, error) {
		if err := l.alice.Get(ctx, key, &got); err != nil {
			return false, err
		}
		return got.Status.Phase == v1alpha1.PhaseApproved || got.Status.Phase == v1alpha1.PhaseDenied, nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("%s not decided (phase %q): %w", name, got.Status.Phase, err)
	case got.Status.Phase != want:
		return fmt.Errorf("%s is %s, its reviewers decided %s: %s", name, got.Status.Phase, want, conditionText(got.Status.Conditions))
	}
	l.requestsDecided.Add(1)
	return nil
}

// decide waits until the request waits on stage and records the reviewer's decision.
func (l *load) decide(ctx context.Context, c client.Client, key client.ObjectKey, stage string, verdict v1alpha1.DecisionVerdict) error {
	var req v1alpha1.ExceptionRequest
	if err := l.poll(ctx, func() (bool, error) {
		if err := c.Get(ctx, key, &req); err != nil {
			return false, err
		}
		return req.Status.CurrentStage == stage, nil
	}); err != nil {
		return fmt.Errorf("%s did not wait on stage %s (phase %q, stage %q): %w", key.Name, stage, req.Status.Phase, req.Status.CurrentStage, err)
	}
	if _, err := plugin.Decide(ctx, c, key, stage, verdict, "reviewed during the soak"); err != nil {
		return fmt.Errorf("%s: deciding stage %s: %w", key.Name, stage, err)
	}
	return nil
}

// poll calls f every 250 ms until it is done, fails, or cfg.decideWithin passes.
func (l *load) poll(ctx context.Context, f func() (bool, error)) error {
	deadline := time.Now().Add(l.cfg.decideWithin)
	for {
		done, err := f()
		switch {
		case err != nil:
			return err
		case done:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("not within %s", l.cfg.decideWithin)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// deals registers a deal every cfg.dealEvery as the seller: a new customer
// each, except every fifth, which another partner registers for the customer
// registered just before (it queues behind the first). Every cfg.winEvery-th
// registration is labelled for the CRM to report won; the others expire when
// their protection ends.
func (l *load) deals(ctx, stop context.Context) {
	every(stop, l.cfg.dealEvery, func(k int) {
		customer, partner := k, (k*l.stride+7)%l.cfg.partners
		if k%5 == 4 {
			customer, partner = k-1, ((k-1)*l.stride+8)%l.cfg.partners
		}
		d := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: fmt.Sprintf("deal-%06d", k)},
			Spec: v1alpha1.DealRegistrationSpec{Partner: harness.PartnerName(partner), Type: v1alpha1.DealResale, ProductLine: productLine,
				Customer: v1alpha1.Customer{Name: fmt.Sprintf("Soak Customer %06d", customer), Domain: fmt.Sprintf("soak-customer-%06d.com", customer)},
				Amount:   v1alpha1.Money{Amount: "25000", Currency: "USD"}}}
		if l.cfg.winEvery > 0 && k%l.cfg.winEvery == 0 {
			d.Labels = map[string]string{winLabel: "true"}
		}
		if err := l.seller.Create(ctx, d); err != nil {
			if ctx.Err() == nil {
				l.fail("registering %s: %v", d.Name, err)
			}
			return
		}
		l.dealsRegistered.Add(1)
	})
}

// dealJanitor looks at the registrations every 2 s, as the CRM and the seller
// would: it reports a win for a labelled registration approved 10 s ago,
// counts expiries, and deletes a registration 30 s after it ended (a deletion
// the webhook refuses until the transitions are recorded is retried). A
// registration Rejected, UnderReview or undecided for a minute is an error:
// the load registers none that should be.
func (l *load) dealJanitor(ctx, stop context.Context) {
	if l.dealSeen == nil {
		l.dealSeen = map[string]string{}
	}
	every(stop, 2*time.Second, func(int) {
		var list v1alpha1.DealRegistrationList
		if err := l.cl.Admin.List(ctx, &list, client.InNamespace(l.ns)); err != nil {
			if ctx.Err() == nil {
				l.fail("listing registrations: %v", err)
			}
			return
		}
		now := time.Now()
		for i := range list.Items {
			l.tend(ctx, &list.Items[i], now)
		}
	})
}

func (l *load) tend(ctx context.Context, d *v1alpha1.DealRegistration, now time.Time) {
	st := d.Status
	last := d.CreationTimestamp.Time
	if n := len(st.History); n > 0 {
		last = st.History[n-1].Time.Time
	}
	flag := func(what string) {
		if l.dealSeen[d.Name] != what {
			l.dealSeen[d.Name] = what
			l.fail("registration %s is %s (%s): %s", d.Name, what, st.Reason, st.Message)
		}
	}
	switch st.Phase {
	case "", v1alpha1.DealSubmitted:
		if now.Sub(d.CreationTimestamp.Time) > time.Minute {
			flag("undecided after a minute")
		}
	case v1alpha1.DealRejected, v1alpha1.DealUnderReview:
		flag(string(st.Phase))
	case v1alpha1.DealApproved:
		if d.Labels[winLabel] == "true" && st.Outcome == nil && st.ApprovedAt != nil && now.Sub(st.ApprovedAt.Time) > 10*time.Second &&
			l.dealSeen[d.Name] != "won" {
			outcome := []byte(`{"status":{"outcome":{"result":"Won","closedAt":"` + now.UTC().Format(time.RFC3339) + `","amount":{"amount":"25000","currency":"USD"}}}}`)
			if err := l.crm.Status().Patch(ctx, d, client.RawPatch(types.MergePatchType, outcome)); err != nil {
				l.fail("reporting %s won: %v", d.Name, err)
				return
			}
			l.dealSeen[d.Name] = "won"
			l.dealsWon.Add(1)
		}
	case v1alpha1.DealExpired:
		if l.dealSeen[d.Name] != "expired" {
			l.dealSeen[d.Name] = "expired"
			l.dealsExpired.Add(1)
		}
	}
	ended := st.Phase == v1alpha1.DealWon || st.Phase == v1alpha1.DealLost || st.Phase == v1alpha1.DealExpired || st.Phase == v1alpha1.DealWithdrawn
	if !ended || now.Sub(last) < 30*time.Second {
		return
	}
	switch err := l.seller.Delete(ctx, d, client.Preconditions{UID: &d.UID}); {
	case err == nil:
		l.dealsDeleted.Add(1)
		delete(l.dealSeen, d.Name)
	case apierrors.IsNotFound(err):
	case apierrors.IsForbidden(err) || apierrors.IsConflict(err):
		l.retried.Add(1) // its transitions are not all recorded yet: next time
	default:
		l.fail("deleting %s: %v", d.Name, err)
	}
}

// listingOps turn over the listings, one operation every cfg.listingEvery in
// turn: create one, release a version of one, deprecate a version of one
// (its sunset the program's notice ahead), delete the oldest. The number of
// listings stays where createListings left it.
func (l *load) listingOps(ctx, stop context.Context) {
	every(stop, l.cfg.listingEvery, func(k int) {
		var err error
		switch k % 4 {
		case 0:
			err = l.createListing(ctx)
		case 1:
			err = l.updateListing(ctx, k/4, release)
		case 2:
			err = l.updateListing(ctx, k/4, deprecate)
		case 3:
			err = l.deleteListing(ctx)
		}
		if err != nil && ctx.Err() == nil {
			l.fail("%v", err)
		}
	})
}

// createListings creates the listings the soak starts with (not counted as churn).
func (l *load) createListings(ctx context.Context, n int) error {
	for range n {
		if err := l.createListing(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (l *load) createListing(ctx context.Context) error {
	k := l.nextListing
	l.nextListing++
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	li := &v1alpha1.Listing{ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: fmt.Sprintf("listing-%06d", k)}, Spec: v1alpha1.ListingSpec{
		Partner: harness.PartnerName((k*l.stride + 3) % l.cfg.partners), Product: fmt.Sprintf("soak-app-%06d", k), Kind: v1alpha1.ListingKindApp,
		Description: "An app listed during the soak.",
		Versions:    []v1alpha1.ListingVersion{{Version: "1.0.0", ReleasedAt: &now, Notes: "First release."}},
	}}
	if err := l.lister.Create(ctx, li); err != nil {
		return fmt.Errorf("creating listing %s: %w", li.Name, err)
	}
	l.live = append(l.live, li.Name)
	l.listingsCreated.Add(1)
	return nil
}

// maxVersions is the most versions the load gives a listing.
const maxVersions = 8

// release adds a released version; deprecate deprecates the oldest version
// that is neither deprecated nor the newest. Each says whether it changed anything.
func release(li *v1alpha1.Listing, now time.Time) bool {
	if len(li.Spec.Versions) >= maxVersions {
		return false
	}
	at := metav1.NewTime(now.Truncate(time.Second))
	li.Spec.Versions = append(li.Spec.Versions, v1alpha1.ListingVersion{
		Version: fmt.Sprintf("1.%d.0", len(li.Spec.Versions)), ReleasedAt: &at, Notes: "Released during the soak."})
	return true
}

func deprecate(li *v1alpha1.Listing, now time.Time) bool {
	for i := range li.Spec.Versions[:len(li.Spec.Versions)-1] {
		v := &li.Spec.Versions[i]
		if v.DeprecatedAt == nil && v.ReleasedAt != nil {
			at := metav1.NewTime(now.Truncate(time.Second))
			sunset := metav1.NewTime(now.Add(listing.DefaultNotice + 24*time.Hour).Truncate(time.Second))
			v.DeprecatedAt, v.SunsetAt = &at, &sunset
			return true
		}
	}
	return false
}

// updateListing applies change to live listing k (modulo their number), read
// again and retried on a conflict.
func (l *load) updateListing(ctx context.Context, k int, change func(*v1alpha1.Listing, time.Time) bool) error {
	if len(l.live) == 0 {
		return nil
	}
	key := types.NamespacedName{Namespace: l.ns, Name: l.live[k%len(l.live)]}
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var li v1alpha1.Listing
		if err := l.lister.Get(ctx, key, &li); err != nil {
			return err
		}
		if changed = change(&li, time.Now()); !changed {
			return nil
		}
		err := l.lister.Update(ctx, &li)
		if apierrors.IsConflict(err) {
			l.retried.Add(1)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("updating listing %s: %w", key.Name, err)
	}
	if changed {
		l.listingsUpdated.Add(1)
	}
	return nil
}

func (l *load) deleteListing(ctx context.Context) error {
	if len(l.live) == 0 {
		return nil
	}
	name := l.live[0]
	l.live = l.live[1:]
	err := l.lister.Delete(ctx, &v1alpha1.Listing{ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: name}})
	if err != nil {
		return fmt.Errorf("deleting listing %s: %w", name, err)
	}
	l.listingsDeleted.Add(1)
	return nil
}

// conditionText is the conditions' reasons and messages, for an error.
func conditionText(cs []metav1.Condition) string {
	s := ""
	for _, c := range cs {
		if c.Status == metav1.ConditionTrue {
			s += fmt.Sprintf("%s %s: %s; ", c.Type, c.Reason, c.Message)
		}
	}
	return s
}

// coprime is the first odd number from s up that shares no factor with n,
// so that i·stride mod n visits every partner.
func coprime(s, n int) int {
	gcd := func(a, b int) int {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	for gcd(s, n) != 1 {
		s += 2
	}
	return s
}

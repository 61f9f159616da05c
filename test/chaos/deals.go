package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/harness"
)

// DealsConfig sizes CrashDeals.
type DealsConfig struct {
	Partners      int
	Customers     int
	Registrations int
	Kills         int
	// KillMin and KillMax bound how long the manager runs before each kill.
	KillMin, KillMax time.Duration
	Timeout          time.Duration
}

// The CRM integration of CrashDeals, trusted by the load's program to report outcomes.
const dealsCRM = "chaos-crm@example.com"

// CrashDeals registers deals from many partners racing on few customers (each
// customer's domain spelled several ways) while the manager is SIGKILLed at
// random moments K times; then the CRM reports a win for the holder of every
// other customer, still under kills. At the end every customer has exactly one
// holder (the DealLock names the one Approved registration; a won customer's
// next in line holds it), no registration is lost, every win credits its
// partner exactly once, and every transition has exactly one DecisionRecord.
func (e *Env) CrashDeals(ctx context.Context, c DealsConfig) Result {
	return runScenario(Result{Scenario: "crash: SIGKILL while registrations race",
		Size: fmt.Sprintf("%d registrations on %d customers, %d partners", c.Registrations, c.Customers, c.Partners)}, func(r *Result) error {
		return e.crashDeals(ctx, "chaos-deals", c, r)
	})
}

// dealDomain spells customer i's domain one of several ways: they are one customer.
func dealDomain(customer, spelling int) string {
	d := fmt.Sprintf("chaos-customer-%03d.com", customer)
	return []string{d, "https://www." + d + "/", "WWW." + strings.ToUpper(d), "sales@" + d, "eu.shop." + d}[spelling%5]
}

func (e *Env) crashDeals(ctx context.Context, ns string, c DealsConfig, r *Result) error {
	cl := e.Cluster
	g := v1alpha1.GroupVersion.Group
	registrar, err := e.user(ctx, "chaos-seller@example.com", rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"dealregistrations"}, Verbs: []string{"create", "get"}})
	if err != nil {
		return err
	}
	crm, err := e.user(ctx, dealsCRM, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"dealregistrations", "dealregistrations/status"}, Verbs: []string{"get", "patch"}})
	if err != nil {
		return err
	}
	m, err := e.startManager(ctx, "deals")
	if err != nil {
		return err
	}
	defer m.Stop()
	if err := waitLeading(ctx, m, time.Minute); err != nil {
		return err
	}
	rules := map[string]any{"spec": map[string]any{"dealRegistration": map[string]any{
		"autoApprove": map[string]any{}, "crmReporters": map[string]any{"users": []string{dealsCRM}},
	}}}
	patch, _ := json.Marshal(rules)
	if err := retry(ctx, time.Minute, func() error {
		return cl.Admin.Patch(ctx, &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: harness.Program}}, client.RawPatch(types.MergePatchType, patch))
	}); err != nil {
		return err
	}
	if err := cl.Namespace(ctx, ns); err != nil {
		return err
	}
	if err := cl.CreatePartners(ctx, ns, c.Partners, 8); err != nil {
		return err
	}
	if err := eventually(ctx, 2*time.Minute, func() error { // the entry tier grants Resell
		ps, err := partnerList(ctx, cl.Admin, ns)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if deal.MissingEntitlement(p, v1alpha1.DealResale, "") != "" {
				return fmt.Errorf("partner %s cannot resell yet", p.Name)
			}
		}
		return nil
	}); err != nil {
		return err
	}

	k := &Killer{env: e, m: m, Min: c.KillMin, Max: c.KillMax}
	var mu sync.Mutex
	working := true
	k.During = func() bool { mu.Lock(); defer mu.Unlock(); return working }
	killed := make(chan error, 1)
	go func() { killed <- k.Run(ctx, c.Kills) }()
	finish := func() { mu.Lock(); working = false; mu.Unlock() }

	// Registrations are spread over half the kills' expected span; the wins
	// over the rest.
	span := time.Duration(c.Kills) * ((c.KillMin+c.KillMax)/2 + time.Second) / 2
	began := time.Now()
	names := make([]string, c.Registrations)
	err = harness.Parallel(ctx, c.Registrations, 8, func(ctx context.Context, i int) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(began.Add(time.Duration(i) * span / time.Duration(c.Registrations)))):
		}
		// The k-th registration of a customer comes from the k-th partner after
		// the customer's own: partners race each other for every customer (a
		// partner's second registration of a customer would be a Duplicate).
		customer := i % c.Customers
		partner := (customer + i/c.Customers) % c.Partners
		d := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("deal-%04d", i)},
			Spec: v1alpha1.DealRegistrationSpec{Partner: harness.PartnerName(partner), Type: v1alpha1.DealResale, ProductLine: "chaos",
				Customer: v1alpha1.Customer{Name: fmt.Sprintf("Customer %03d", customer), Domain: dealDomain(customer, i/c.Customers)},
				Amount:   v1alpha1.Money{Amount: "10000", Currency: "USD"}}}
		names[i] = d.Name
		// The webhooks are down while the manager restarts: retry until admitted.
		return retry(ctx, c.Timeout, func() error {
			err := registrar.Create(ctx, d.DeepCopy())
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		})
	})
	if err != nil {
		finish()
		<-killed
		return err
	}

	// Wins: the holder of every other customer, once it holds.
	won := map[string]string{} // registration -> its partner
	for customer := 0; customer < c.Customers; customer += 2 {
		var holder *v1alpha1.DealRegistration
		if err := eventually(ctx, c.Timeout, func() error {
			h, err := customerHolder(ctx, cl.Admin, ns, customer)
			holder = h
			return err
		}); err != nil {
			finish()
			<-killed
			return fmt.Errorf("customer %d: %w", customer, err)
		}
		outcome := []byte(`{"status":{"outcome":{"result":"Won","closedAt":"` + time.Now().UTC().Format(time.RFC3339) + `","amount":{"amount":"25000","currency":"USD"}}}}`)
		if err := retry(ctx, c.Timeout, func() error {
			return crm.Status().Patch(ctx, holder, client.RawPatch(types.MergePatchType, outcome))
		}); err != nil {
			finish()
			<-killed
			return err
		}
		won[holder.Name] = holder.Spec.Partner
	}
	finish()
	if err := <-killed; err != nil {
		return err
	}
	kills, during := k.Kills()
	r.Kills = kills
	r.figure("%d of %d kills while registrations raced or were won", during, kills)
	if during == 0 {
		r.fail("no kill hit the registrations")
	}

	var last error
	var holders, queued, records int
	check := func() error {
		var err error
		holders, queued, records, r.DecisionsLost, r.Duplicated, err = verifyDeals(ctx, cl.Admin, ns, c, names, won)
		last = err
		return err
	}
	if err := eventually(ctx, c.Timeout, check); err != nil && r.DecisionsLost == 0 && r.Duplicated == 0 {
		return last
	}
	r.figure("%d customers: %d held by one registration each, %d registrations queued, %d won and credited once each; %d transition records, one each",
		c.Customers, holders, queued, len(won), records)
	return nil
}

// customerHolder is the registration that holds customer i's key, read from its lock.
func customerHolder(ctx context.Context, c client.Client, ns string, customer int) (*v1alpha1.DealRegistration, error) {
	domain, err := deal.CanonicalDomain(dealDomain(customer, 0), nil)
	if err != nil {
		return nil, err
	}
	var lock v1alpha1.DealLock
	if err := c.Get(ctx, types.NamespacedName{Name: deal.LockName(harness.Program + "/domain:" + domain + "/chaos")}, &lock); err != nil {
		return nil, err
	}
	var d v1alpha1.DealRegistration
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: lock.Spec.Holder.Name}, &d); err != nil {
		return nil, err
	}
	if d.Status.Phase != v1alpha1.DealApproved || string(d.UID) != lock.Spec.Holder.UID {
		return nil, fmt.Errorf("the holder %s of customer %d is %s", d.Name, customer, d.Status.Phase)
	}
	return &d, nil
}

// verifyDeals counts, in namespace: holders (customers whose lock names their
// one Approved registration), queued registrations, transition records; lost
// (registrations missing or never decided, wins not credited, transitions
// without a record, customers without a holder while one waits) and
// duplicated (two holders of one customer, a win credited twice or to another
// partner, a transition recorded twice). err says what is not settled yet.
func verifyDeals(ctx context.Context, c client.Client, ns string, cfg DealsConfig, names []string, won map[string]string) (holders, queued, records, lost, dups int, err error) {
	var list v1alpha1.DealRegistrationList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	byName := map[string]*v1alpha1.DealRegistration{}
	byKey := map[string][]*v1alpha1.DealRegistration{}
	for i := range list.Items {
		d := &list.Items[i]
		byName[d.Name] = d
		byKey[d.Status.ConflictKey] = append(byKey[d.Status.ConflictKey], d)
	}
	var problems []string
	for _, n := range names {
		d, ok := byName[n]
		switch {
		case !ok:
			lost++
			problems = append(problems, n+" is missing")
		case d.Status.Phase == "" || d.Status.Phase == v1alpha1.DealSubmitted:
			problems = append(problems, n+" is not decided yet")
		case d.Status.Phase == v1alpha1.DealQueued:
			queued++
		}
	}
	if len(byKey) != cfg.Customers {
		problems = append(problems, fmt.Sprintf("%d conflict keys for %d customers", len(byKey), cfg.Customers))
	}
	for key, ds := range byKey {
		var approved []*v1alpha1.DealRegistration
		waiting := false
		for _, d := range ds {
			switch d.Status.Phase {
			case v1alpha1.DealApproved:
				approved = append(approved, d)
			case v1alpha1.DealQueued:
				waiting = true
			}
		}
		switch {
		case len(approved) > 1:
			dups += len(approved) - 1
			problems = append(problems, fmt.Sprintf("%s has %d approved registrations", key, len(approved)))
			continue
		case len(approved) == 0 && waiting:
			problems = append(problems, key+" has registrations queued and no holder")
			continue
		case len(approved) == 0:
			continue
		}
		var lock v1alpha1.DealLock
		if err := c.Get(ctx, types.NamespacedName{Name: deal.LockName(key)}, &lock); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		if lock.Spec.Holder.UID != string(approved[0].UID) {
			problems = append(problems, fmt.Sprintf("%s: the lock names %s, the approved registration is %s", key, lock.Spec.Holder.Name, approved[0].Name))
			continue
		}
		holders++
	}
	for name, partner := range won {
		d, ok := byName[name]
		if !ok || d.Status.Phase != v1alpha1.DealWon || d.Status.Attribution == nil || d.Status.Attribution.Sourced == nil {
			problems = append(problems, name+" is not won and credited yet")
			continue
		}
		if s := d.Status.Attribution.Sourced; s.Partner != partner || s.Amount.Amount != "25000" || len(d.Status.Attribution.Influenced) > 0 {
			dups++
			problems = append(problems, fmt.Sprintf("%s credits %+v", name, d.Status.Attribution))
		}
	}
	for _, d := range list.Items {
		if d.Status.Phase == v1alpha1.DealWon && won[d.Name] == "" {
			dups++
			problems = append(problems, d.Name+" is won without a reported win")
		}
	}
	var recs recordsv1alpha1.DecisionRecordList
	if err := c.List(ctx, &recs, client.InNamespace(ns), client.MatchingLabels{record.LabelType: string(recordsv1alpha1.DecisionDealTransition)}); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	perDeal := map[string]int{}
	for _, rec := range recs.Items {
		perDeal[rec.Spec.Subject.Name]++
	}
	records = len(recs.Items)
	for _, d := range list.Items {
		h := d.Status.History
		if len(h) == 0 {
			continue
		}
		want := int(h[len(h)-1].Sequence)
		switch got := perDeal[d.Name]; {
		case got > want:
			dups += got - want
			problems = append(problems, fmt.Sprintf("%s has %d transition records for %d transitions", d.Name, got, want))
		case got < want:
			problems = append(problems, fmt.Sprintf("%s has %d transition records for %d transitions", d.Name, got, want))
		}
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return holders, queued, records, lost, dups, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return holders, queued, records, lost, dups, nil
}

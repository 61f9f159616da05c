package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientretry "k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/harness"
)

// ForgedOutcomes removes the status guards and forges, as an identity RBAC
// allows, an outcome and a replayed decision: the Approved phase of a pending
// IncentiveException request that no decision approved, and the sealed stage
// decision of another, genuinely approved request copied onto a pending one.
// It puts the guards back and checks that neither counts: the partner holds no
// entitlement from either request and no record names either approval, while
// the genuine approval still grants what it grants.
func (e *Env) ForgedOutcomes(ctx context.Context, timeout time.Duration) Result {
	return runScenario(Result{Scenario: "forged outcomes and replayed decisions while the webhooks were absent",
		Size: "1 forged approval, 1 replayed decision"}, func(r *Result) error { return e.forgedOutcomes(ctx, timeout, r) })
}

func (e *Env) forgedOutcomes(ctx context.Context, timeout time.Duration, r *Result) error {
	const ns, pathName = "chaos-forged-outcomes", "chaos-forged-outcomes"
	cl := e.Cluster
	g := v1alpha1.GroupVersion.Group
	m, err := e.startManager(ctx, "forged-outcomes")
	if err != nil {
		return err
	}
	defer m.Stop()
	if err := waitLeading(ctx, m, time.Minute); err != nil {
		return err
	}
	if err := cl.Namespace(ctx, ns); err != nil {
		return err
	}
	if err := cl.CreatePartners(ctx, ns, 2, 2); err != nil {
		return err
	}
	genuineOf, forgedOf := client.ObjectKey{Namespace: ns, Name: harness.PartnerName(0)}, client.ObjectKey{Namespace: ns, Name: harness.PartnerName(1)}
	for _, p := range []client.ObjectKey{genuineOf, forgedOf} {
		if err := eventually(ctx, time.Minute, func() error { return tierIs(ctx, cl.Admin, p, harness.Tiers[0]) }); err != nil {
			return err
		}
	}
	asker, err := e.user(ctx, requester, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"exceptionrequests"}, Verbs: []string{"create", "get"}})
	if err != nil {
		return err
	}
	alice, err := e.user(ctx, managerReviewer,
		rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"exceptionrequests", "exceptionrequests/status"}, Verbs: []string{"get", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"reviewpaths"}, ResourceNames: []string{pathName + ".manager"}, Verbs: []string{"approve"}})
	if err != nil {
		return err
	}
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: pathName}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestIncentiveException}},
		Stages:          []v1alpha1.ReviewStage{{Name: "manager", Quorum: 1, SLA: metav1.Duration{Duration: 24 * time.Hour}, OnTimeout: v1alpha1.TimeoutEscalate}},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	if err := clientretry.OnError(clientretry.DefaultRetry, func(error) bool { return true }, func() error {
		return client.IgnoreAlreadyExists(cl.Admin.Create(ctx, path))
	}); err != nil {
		return err
	}
	exp := metav1.NewTime(time.Now().Add(24 * time.Hour).Truncate(time.Second))
	request := func(name string, partner client.ObjectKey) *v1alpha1.ExceptionRequest {
		return &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.ExceptionRequestSpec{
			Type: v1alpha1.RequestIncentiveException, Partner: partner.Name, ReviewPath: pathName, Expires: &exp,
			Justification: "chaos: " + name, Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement}},
		}}
	}
	genuine, forgedOutcome, replayed := request("genuine", genuineOf), request("forged-outcome", forgedOf), request("replayed-decision", forgedOf)
	for _, q := range []*v1alpha1.ExceptionRequest{genuine, forgedOutcome, replayed} {
		if err := clientretry.OnError(clientretry.DefaultRetry, func(error) bool { return true }, func() error {
			return client.IgnoreAlreadyExists(asker.Create(ctx, q.DeepCopy()))
		}); err != nil {
			return err
		}
		if err := eventually(ctx, time.Minute, func() error {
			var got v1alpha1.ExceptionRequest
			if err := cl.Admin.Get(ctx, client.ObjectKeyFromObject(q), &got); err != nil {
				return err
			}
			if got.Status.CurrentStage != "manager" {
				return fmt.Errorf("request %s waits on %q", q.Name, got.Status.CurrentStage)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	// The genuine approval, sealed by the webhooks, grants its partner the exception.
	if err := decideOnce(ctx, alice, managerReviewer, client.ObjectKeyFromObject(genuine), "manager", v1alpha1.DecisionApprove, time.Minute); err != nil {
		return err
	}
	if err := eventually(ctx, time.Minute, func() error { return grantedByRequest(ctx, cl.Admin, genuineOf, genuine.Name, true) }); err != nil {
		return err
	}
	var sealed v1alpha1.ExceptionRequest
	if err := cl.Admin.Get(ctx, client.ObjectKeyFromObject(genuine), &sealed); err != nil {
		return err
	}
	if len(sealed.Status.Decisions) == 0 {
		return fmt.Errorf("the genuine request %s stores no decision", genuine.Name)
	}

	// The webhooks go; the forger holds the RBAC for its writes.
	restore, err := e.removeGuards(ctx)
	if err != nil {
		return err
	}
	forgeries := []func() error{
		func() error { // an outcome no decision gave
			patch := []byte(`{"status":{"phase":"Approved"}}`)
			return cl.Admin.Status().Patch(ctx, forgedOutcome.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
		},
		func() error { // a sealed decision replayed onto another request
			patch, err := json.Marshal(map[string]any{"status": map[string]any{"decisions": sealed.Status.Decisions}})
			if err != nil {
				return err
			}
			return cl.Admin.Status().Patch(ctx, replayed.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
		},
	}
	for _, forge := range forgeries {
		if err := eventually(ctx, 30*time.Second, forge); err != nil {
			_ = restore()
			return fmt.Errorf("forging: %w", err)
		}
	}
	if err := restore(); err != nil {
		return err
	}

	// Neither counts; the genuine approval still does.
	var last error
	check := func() error {
		counted := 0
		var why []string
		if err := grantedByRequest(ctx, cl.Admin, forgedOf, "", false); err != nil {
			counted++
			why = append(why, err.Error())
		}
		var recs recordsv1alpha1.DecisionRecordList
		if err := cl.Admin.List(ctx, &recs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, rec := range recs.Items {
			t := rec.Spec.Type
			if (t == recordsv1alpha1.DecisionStageDecision || t == recordsv1alpha1.DecisionRequestOutcome) &&
				(rec.Spec.Subject.Name == forgedOutcome.Name || rec.Spec.Subject.Name == replayed.Name) {
				counted++
				why = append(why, fmt.Sprintf("record %s (%s of %s)", rec.Name, t, rec.Spec.Subject.Name))
			}
		}
		if err := grantedByRequest(ctx, cl.Admin, genuineOf, genuine.Name, true); err != nil {
			return err
		}
		r.Duplicated = counted
		if counted > 0 {
			last = fmt.Errorf("%d forgeries counted: %v", counted, why)
			return last
		}
		return nil
	}
	if err := eventually(ctx, timeout, check); err != nil {
		if last != nil {
			return last
		}
		return err
	}
	// and stays so.
	time.Sleep(5 * time.Second)
	if err := check(); err != nil {
		return err
	}
	r.figure("no entitlement and no record from the forged approval or the replayed decision; the genuine approval still grants")
	return nil
}

// grantedByRequest reports an error unless partner holds an entitlement from
// an ExceptionRequest named request (any request when empty) exactly when want.
func grantedByRequest(ctx context.Context, c client.Client, partner client.ObjectKey, request string, want bool) error {
	var p v1alpha1.Partner
	if err := c.Get(ctx, partner, &p); err != nil {
		return err
	}
	for _, e := range p.Status.Entitlements {
		if e.Source.Kind == v1alpha1.EntitlementSourceExceptionRequest && (request == "" || e.Source.Name == request) {
			if want {
				return nil
			}
			return fmt.Errorf("partner %s holds %s from request %s", partner.Name, e.Name, e.Source.Name)
		}
	}
	if want {
		return fmt.Errorf("partner %s holds nothing from request %s yet", partner.Name, request)
	}
	return nil
}

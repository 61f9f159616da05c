package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientretry "k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/harness"
)

// statusGuards are the webhooks Forged removes, as an uninstall would.
var statusGuards = map[string]bool{
	"mpartnerstatus.governance.partnergov.io":          true,
	"mexceptionrequeststatus.governance.partnergov.io": true,
}

// Forged removes the status guards, forges as identities RBAC allows an
// evidence report that would earn the top tier, an approval of a pending
// request and the top tier itself, puts the guards back and checks that none of
// them counts: the tier is what sealed evidence gives, the request still waits,
// and no record names the forged decision.
func (e *Env) Forged(ctx context.Context, timeout time.Duration) Result {
	return runScenario(Result{Scenario: "forged while the webhooks were absent", Size: "1 evidence report, 1 decision, 1 tier"},
		func(r *Result) error { return e.forged(ctx, timeout, r) })
}

func (e *Env) forged(ctx context.Context, timeout time.Duration, r *Result) error {
	const ns = "chaos-forged"
	cl := e.Cluster
	m, err := e.startManager(ctx, "forged")
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
	if err := cl.CreatePartners(ctx, ns, 1, 1); err != nil {
		return err
	}
	partner := client.ObjectKey{Namespace: ns, Name: harness.PartnerName(0)}
	entry, top := harness.Tiers[0], harness.Tiers[len(harness.Tiers)-1]
	if err := eventually(ctx, time.Minute, func() error { return tierIs(ctx, cl.Admin, partner, entry) }); err != nil {
		return err
	}
	asker, err := e.user(ctx, requester, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"exceptionrequests"}, Verbs: []string{"create", "get"}})
	if err != nil {
		return err
	}
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: "chaos-forged"}, Spec: v1alpha1.ReviewPathSpec{
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
	req := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forged-approval"}, Spec: v1alpha1.ExceptionRequestSpec{
		Type: v1alpha1.RequestIncentiveException, Partner: partner.Name, ReviewPath: path.Name, Expires: &exp,
		Justification: "an exception nobody approved", Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement}},
	}}
	if err := clientretry.OnError(clientretry.DefaultRetry, func(error) bool { return true }, func() error {
		return client.IgnoreAlreadyExists(asker.Create(ctx, req.DeepCopy()))
	}); err != nil {
		return err
	}
	if err := eventually(ctx, time.Minute, func() error {
		var q v1alpha1.ExceptionRequest
		if err := cl.Admin.Get(ctx, client.ObjectKeyFromObject(req), &q); err != nil {
			return err
		}
		if q.Status.CurrentStage != "manager" {
			return fmt.Errorf("request waits on %q", q.Status.CurrentStage)
		}
		return nil
	}); err != nil {
		return err
	}

	// The webhooks go; each forger holds the RBAC for its write.
	restore, err := e.removeGuards(ctx)
	if err != nil {
		return err
	}
	reporter, err := cl.ReporterClient(0, 0)
	if err != nil {
		return err
	}
	forgeries := []func() error{
		func() error { return harness.ReportEvidence(ctx, reporter, ns, partner.Name, len(harness.Tiers)-1, 1) },
		func() error {
			at := metav1.Now()
			patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/status/decisions", "value": []v1alpha1.ReviewDecision{{
				Stage: "manager", Decision: v1alpha1.DecisionApprove, Rationale: "forged", Reviewer: managerReviewer, Time: &at, Generation: 1,
			}}}})
			if err != nil {
				return err
			}
			return cl.Admin.Status().Patch(ctx, req.DeepCopy(), client.RawPatch(types.JSONPatchType, patch))
		},
		func() error {
			return clientretry.RetryOnConflict(clientretry.DefaultRetry, func() error {
				var p v1alpha1.Partner
				if err := cl.Admin.Get(ctx, partner, &p); err != nil {
					return err
				}
				p.Status.Tier = top
				return cl.Admin.Status().Update(ctx, &p)
			})
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

	// None of them counts: the tier settles where sealed evidence puts it.
	var last error
	check := func() error {
		counted := 0
		var p v1alpha1.Partner
		if err := cl.Admin.Get(ctx, partner, &p); err != nil {
			return err
		}
		if p.Status.Tier != entry {
			counted++ // the forged tier, or a tier earned by the forged evidence
		}
		var q v1alpha1.ExceptionRequest
		if err := cl.Admin.Get(ctx, client.ObjectKeyFromObject(req), &q); err != nil {
			return err
		}
		if q.Status.Phase != v1alpha1.PhasePending {
			counted++ // the forged approval
		}
		var recs recordsv1alpha1.DecisionRecordList
		if err := cl.Admin.List(ctx, &recs, client.InNamespace(ns), client.MatchingLabels{record.LabelType: string(recordsv1alpha1.DecisionStageDecision)}); err != nil {
			return err
		}
		counted += len(recs.Items)
		r.Duplicated = counted
		if counted > 0 {
			last = fmt.Errorf("%d forgeries counted (tier %q, request %s, %d decision records)", counted, p.Status.Tier, q.Status.Phase, len(recs.Items))
			return last
		}
		return nil
	}
	if err := eventually(ctx, timeout, check); err != nil {
		return last
	}
	// and stays there.
	time.Sleep(5 * time.Second)
	if err := check(); err != nil {
		return err
	}
	r.figure("tier %s (the forged one was %s), request still Pending, no record of the forged decision", entry, top)
	return nil
}

// removeGuards deletes the status guards from the webhook configurations and
// returns a function that puts them back.
func (e *Env) removeGuards(ctx context.Context) (func() error, error) {
	var list admissionregistrationv1.MutatingWebhookConfigurationList
	if err := e.Cluster.Admin.List(ctx, &list); err != nil {
		return nil, err
	}
	var saved []*admissionregistrationv1.MutatingWebhookConfiguration
	for i := range list.Items {
		mwc := &list.Items[i]
		before := mwc.DeepCopy()
		kept := mwc.Webhooks[:0:0]
		for _, w := range mwc.Webhooks {
			if !statusGuards[w.Name] {
				kept = append(kept, w)
			}
		}
		if len(kept) == len(mwc.Webhooks) {
			continue
		}
		mwc.Webhooks = kept
		if err := e.Cluster.Admin.Update(ctx, mwc); err != nil {
			return nil, err
		}
		saved = append(saved, before)
	}
	time.Sleep(2 * time.Second) // the API server follows its webhook configurations after a moment
	return func() error {
		for _, before := range saved {
			var now admissionregistrationv1.MutatingWebhookConfiguration
			if err := e.Cluster.Admin.Get(ctx, client.ObjectKeyFromObject(before), &now); err != nil {
				return err
			}
			now.Webhooks = before.Webhooks
			if err := e.Cluster.Admin.Update(ctx, &now); err != nil {
				return err
			}
		}
		time.Sleep(2 * time.Second)
		return nil
	}, nil
}

// tierIs reports an error until the partner holds tier.
func tierIs(ctx context.Context, c client.Client, key client.ObjectKey, tier string) error {
	var p v1alpha1.Partner
	if err := c.Get(ctx, key, &p); err != nil {
		return err
	}
	if p.Status.Tier != tier {
		return fmt.Errorf("partner %s holds %q, not %q", key.Name, p.Status.Tier, tier)
	}
	return nil
}

package controllers

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var planReviewOverdueDesc = prometheus.NewDesc("partnergov_business_plan_review_overdue_since_timestamp_seconds",
	"When the quarterly business review of an approved joint business plan became overdue (status.reviewOverdueSince: the quarter's "+
		"end plus the program's businessPlans.reviewSLA), in Unix seconds. One series per plan with a review overdue and none for the "+
		"others. owner is the partner's spec.owner; company_owners are the plan's company-side owners.",
	[]string{"program", "partner_namespace", "partner", "owner", "plan", "company_owners"}, nil)

// collectPlans reports the plans whose business review is overdue.
func (c *partnerCollector) collectPlans(ctx context.Context, ch chan<- prometheus.Metric, partners map[types.NamespacedName]*v1alpha1.Partner) {
	var plans v1alpha1.JointBusinessPlanList
	if err := c.reader.List(ctx, &plans, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range plans.Items {
		p := &plans.Items[i]
		since := p.Status.ReviewOverdueSince
		if since == nil {
			continue
		}
		var owner, program string
		if partner := partners[types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.Partner}]; partner != nil {
			owner, program = partner.Spec.Owner, partner.Spec.Program
		}
		companyOwners := ""
		for i, o := range p.Spec.Owners.Company {
			if i > 0 {
				companyOwners += ","
			}
			companyOwners += o
		}
		ch <- prometheus.MustNewConstMetric(planReviewOverdueDesc, prometheus.GaugeValue, unix(since.Time),
			program, p.Namespace, p.Spec.Partner, owner, p.Name, companyOwners)
	}
}

package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// partnerPlans lists the partner's JointBusinessPlans, newest period first; none
// when the user may not list plans.
func partnerPlans(ctx context.Context, c client.Client, p *v1alpha1.Partner) ([]v1alpha1.JointBusinessPlan, error) {
	var list v1alpha1.JointBusinessPlanList
	if err := c.List(ctx, &list, client.InNamespace(p.Namespace)); err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []v1alpha1.JointBusinessPlan
	for _, jbp := range list.Items {
		if jbp.Spec.Partner == p.Name {
			out = append(out, jbp)
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.JointBusinessPlan) int {
		if c := b.Spec.Period.Start.Compare(a.Spec.Period.Start.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// writeEnablement prints the training the partner must be enrolled in.
func writeEnablement(w io.Writer, st v1alpha1.PartnerStatus) error {
	fmt.Fprintf(w, "\nRequired enablement (status.enablement):\n")
	if st.Enablement == nil || len(st.Enablement.Required) == 0 {
		fmt.Fprintf(w, "  none\n")
		return nil
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "  TRACK\tREQUIRED BY\tDESCRIPTION\n")
	for _, r := range st.Enablement.Required {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Track, r.Tier, orNone(r.Description))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := st.Enablement.Omitted; n > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", n)
	}
	return nil
}

// writePlans prints the partner's joint business plans and each goal's progress.
func writePlans(w io.Writer, plans []v1alpha1.JointBusinessPlan, now time.Time) error {
	fmt.Fprintf(w, "\nJoint business plans:\n")
	if len(plans) == 0 {
		fmt.Fprintf(w, "  none\n")
		return nil
	}
	for _, p := range plans {
		st := p.Status
		review := none
		if st.NextReviewDue != nil {
			review = "due " + timestamp(st.NextReviewDue, now)
		}
		if st.ReviewOverdueSince != nil {
			review = "OVERDUE since " + timestamp(st.ReviewOverdueSince, now)
		}
		fmt.Fprintf(w, "  %s: %s from %s, %s; business review %s\n", p.Name, p.Spec.Period.Kind,
			p.Spec.Period.Start.UTC().Format("2006-01-02"), orNone(string(st.Phase)), review)
		if len(st.Goals) == 0 {
			continue
		}
		tw := newTable(w)
		fmt.Fprintf(tw, "    GOAL\tTARGET\tCURRENT\tEXPECTED NOW\tSTATE\n")
		for _, g := range st.Goals {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", g.Metric, g.Target, orNone(string(g.Current)), g.Expected, g.State)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

package plugin

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
)

// DealFilter selects registrations for `kubectl partnergov deals`.
type DealFilter struct {
	// Partner keeps one partner's registrations ("" for all).
	Partner string
	// Conflicts keeps registrations in a conflict: queued, rejected as a
	// duplicate or against the direct team, or suspected duplicates.
	Conflicts bool
	// Pending keeps registrations under review.
	Pending bool
}

func (f DealFilter) keep(d *v1alpha1.DealRegistration) bool {
	st := d.Status
	switch {
	case f.Partner != "" && d.Spec.Partner != f.Partner:
		return false
	case f.Pending && st.Phase != v1alpha1.DealUnderReview:
		return false
	case f.Conflicts:
		suspected := slices.ContainsFunc(st.Duplicates, func(m v1alpha1.DuplicateMatch) bool { return m.MatchedOn == "CustomerName" })
		return st.Phase == v1alpha1.DealQueued || suspected ||
			(st.Phase == v1alpha1.DealRejected && (st.Reason == v1alpha1.ReasonDealDirectEngaged || st.Reason == v1alpha1.ReasonDealDuplicate))
	}
	return true
}

func dealsCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var all bool
	var f DealFilter
	cmd := &cobra.Command{
		Use:   "deals [-A | -n NAMESPACE] [--partner NAME] [--conflicts | --pending]",
		Short: "List deal registrations: who holds which customer, what is queued, what waits for review",
		Example: `  kubectl partnergov deals -n partners --partner acme-consulting
  kubectl partnergov deals -A --conflicts
  kubectl partnergov deals -A --pending`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			if all {
				ns = ""
			}
			deals, err := Deals(cmd.Context(), c, ns, f)
			if err != nil {
				return err
			}
			return writeDeals(streams.Out, deals, time.Now())
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list registrations in every namespace")
	cmd.Flags().StringVar(&f.Partner, "partner", "", "only this partner's registrations")
	cmd.Flags().BoolVar(&f.Conflicts, "conflicts", false, "only registrations in a conflict (queued, rejected against a holder, suspected duplicates)")
	cmd.Flags().BoolVar(&f.Pending, "pending", false, "only registrations under review")
	return cmd
}

// Deals lists the registrations in namespace ("" for all) that f keeps, by
// customer and product line, then submission order.
func Deals(ctx context.Context, c client.Client, namespace string, f DealFilter) ([]v1alpha1.DealRegistration, error) {
	var list v1alpha1.DealRegistrationList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	var out []v1alpha1.DealRegistration
	for i := range list.Items {
		if f.keep(&list.Items[i]) {
			out = append(out, list.Items[i])
		}
	}
	slices.SortStableFunc(out, func(a, b v1alpha1.DealRegistration) int {
		if k := cmp.Compare(a.Status.ConflictKey, b.Status.ConflictKey); k != 0 {
			return k
		}
		if deal.Before(&a, &b) {
			return -1
		}
		return 1
	})
	return out, nil
}

func writeDeals(w io.Writer, deals []v1alpha1.DealRegistration, now time.Time) error {
	if len(deals) == 0 {
		_, err := fmt.Fprintln(w, "No deal registrations match.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "NAMESPACE\tNAME\tPARTNER\tCUSTOMER\tPRODUCT\tPHASE\tREASON\tPROTECTED UNTIL\tHOLDER\n")
	for _, d := range deals {
		st := d.Status
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Namespace, d.Name, d.Spec.Partner, orNone(st.CanonicalDomain), d.Spec.ProductLine,
			orNone(string(st.Phase)), orNone(st.Reason), timestamp(st.ProtectedUntil, now), holderText(st.Holder))
	}
	return tw.Flush()
}

func holderText(h *v1alpha1.DealHolder) string {
	switch {
	case h == nil:
		return none
	case h.Kind == deal.HolderDirect:
		return "direct team (" + orNone(h.Opportunity) + ")"
	}
	return h.Partner + " (" + h.Namespace + "/" + h.Name + ")"
}

// DealExplanation is who holds a registration's customer, where the
// registration stands in line, and why.
type DealExplanation struct {
	Now  time.Time
	Deal *v1alpha1.DealRegistration
	// Lock is the conflict key's lock; nil when nobody holds the key.
	Lock *v1alpha1.DealLock
	// Line is every open registration for the key, in submission order.
	Line []v1alpha1.DealRegistration
	// Review is the registration's review request, if any.
	Review *v1alpha1.ExceptionRequest
}

// ExplainDeal reads what `explain deal` shows.
func ExplainDeal(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) (*DealExplanation, error) {
	e := &DealExplanation{Now: now, Deal: &v1alpha1.DealRegistration{}}
	if err := c.Get(ctx, key, e.Deal); err != nil {
		return nil, err
	}
	st := e.Deal.Status
	if st.ConflictKey != "" {
		var lock v1alpha1.DealLock
		switch err := c.Get(ctx, types.NamespacedName{Name: deal.LockName(st.ConflictKey)}, &lock); {
		case err == nil:
			e.Lock = &lock
		case !apierrors.IsNotFound(err):
			return nil, err
		}
		var all v1alpha1.DealRegistrationList
		if err := c.List(ctx, &all); err != nil {
			return nil, err
		}
		for _, d := range all.Items {
			// In line for any of its keys (a domain or a D-U-N-S number).
			if slices.ContainsFunc(deal.KeysOf(&d), func(k string) bool { return slices.Contains(deal.KeysOf(e.Deal), k) }) && !deal.Final(d.Status.Phase) {
				e.Line = append(e.Line, d)
			}
		}
		slices.SortStableFunc(e.Line, func(a, b v1alpha1.DealRegistration) int {
			if deal.Before(&a, &b) {
				return -1
			}
			return 1
		})
	}
	if st.Request != "" {
		var q v1alpha1.ExceptionRequest
		switch err := c.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: st.Request}, &q); {
		case err == nil:
			e.Review = &q
		case !apierrors.IsNotFound(err):
			return nil, err
		}
	}
	return e, nil
}

func writeDealExplanation(w io.Writer, e *DealExplanation) error {
	d, st, now := e.Deal, e.Deal.Status, e.Now
	tw := newTable(w)
	fmt.Fprintf(tw, "Deal registration:\t%s/%s\n", d.Namespace, d.Name)
	fmt.Fprintf(tw, "Partner:\t%s (%s)\n", d.Spec.Partner, d.Spec.Type)
	fmt.Fprintf(tw, "Customer:\t%s, %s (as typed: %s)\n", d.Spec.Customer.Name, orNone(st.CanonicalDomain), d.Spec.Customer.Domain)
	fmt.Fprintf(tw, "Product line:\t%s\n", d.Spec.ProductLine)
	fmt.Fprintf(tw, "Amount:\t%s %s\n", d.Spec.Amount.Amount, d.Spec.Amount.Currency)
	if d.Spec.SubmittedAt != nil {
		fmt.Fprintf(tw, "Submitted:\t%s by %s\n", d.Spec.SubmittedAt.UTC().Format(time.RFC3339Nano), registrant(d))
	}
	fmt.Fprintf(tw, "Phase:\t%s (%s)\n", orNone(string(st.Phase)), orNone(st.Reason))
	fmt.Fprintf(tw, "Why:\t%s\n", orNone(st.Message))
	fmt.Fprintf(tw, "Conflict key:\t%s\n", orNone(strings.Join(deal.KeysOf(d), " and ")))
	holder := "nobody"
	if e.Lock != nil {
		holder = holderText(&e.Lock.Spec.Holder)
		if e.Lock.Spec.Holder.UID == string(d.UID) {
			holder = "this registration"
		}
	}
	fmt.Fprintf(tw, "Held by:\t%s\n", holder)
	if st.ProtectedUntil != nil {
		fmt.Fprintf(tw, "Protected until:\t%s (%s)\n", st.ProtectedUntil.UTC().Format(time.RFC3339), relative(st.ProtectedUntil.Time, now))
	}
	if e.Review != nil {
		fmt.Fprintf(tw, "Review:\t%s, %s, stage %s\n", e.Review.Name, orNone(string(e.Review.Status.Phase)), orNone(e.Review.Status.CurrentStage))
	}
	if c := st.Conflict; c != nil {
		result := c.Result
		if result == "" {
			result = "under review"
		}
		fmt.Fprintf(tw, "Conflict:\tescalated against %s through request %s: %s\n", holderText(&c.Against), c.Request, result)
	}
	if d.Spec.PublicTender {
		fmt.Fprintf(tw, "Public tender:\tyes\n")
	}
	for _, m := range st.Duplicates {
		fmt.Fprintf(tw, "Resembles:\t%s/%s of %s (%s)\n", m.Namespace, m.Name, m.Partner, m.MatchedOn)
	}
	if a := st.Attribution; a != nil {
		if a.Sourced != nil {
			fmt.Fprintf(tw, "Sourced credit:\t%s/%s, %s %s\n", a.Sourced.Namespace, a.Sourced.Partner, a.Sourced.Amount.Amount, a.Sourced.Amount.Currency)
		}
		for _, c := range a.Influenced {
			fmt.Fprintf(tw, "Influenced credit:\t%s/%s (%s), %s %s\n", c.Namespace, c.Partner, c.Role, c.Amount.Amount, c.Amount.Currency)
		}
		for _, x := range a.Excluded {
			fmt.Fprintf(tw, "No credit:\t%s\n", x)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(e.Line) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nIn line for %s (submission order):\n", strings.Join(deal.KeysOf(d), " and "))
	lt := newTable(w)
	fmt.Fprintf(lt, "#\tREGISTRATION\tPARTNER\tSUBMITTED\tPHASE\n")
	for i, o := range e.Line {
		mark := ""
		if o.UID == d.UID {
			mark = "  <- this one"
		}
		at := none
		if o.Spec.SubmittedAt != nil {
			at = o.Spec.SubmittedAt.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(lt, "%d\t%s/%s\t%s\t%s\t%s%s\n", i+1, o.Namespace, o.Name, o.Spec.Partner, at, orNone(string(o.Status.Phase)), mark)
	}
	return lt.Flush()
}

func registrant(d *v1alpha1.DealRegistration) string {
	if d.Spec.Registrant == nil {
		return "an unrecorded identity"
	}
	return d.Spec.Registrant.Username
}

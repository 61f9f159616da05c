package plugin

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/guard"
	"github.com/partnergov/partnergov/internal/review"
)

func pendingCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "pending [-A | -n NAMESPACE]",
		Short: "List the pending exception requests whose current stage you may decide",
		Example: `  kubectl partnergov pending -A
  kubectl partnergov pending -n partners`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			if all {
				ns = ""
			}
			reqs, err := Pending(cmd.Context(), c, ns)
			if err != nil {
				return err
			}
			return writePending(streams.Out, reqs, ns, time.Now())
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list requests in every namespace")
	return cmd
}

// Pending lists the pending requests in namespace ("" for all) whose current stage
// the user c authenticates as may decide, as the request status webhook decides it:
// RBAC verb "approve" on reviewpaths/<path>.<stage>, or, for stage "escalation",
// being the path's escalation owner (by user name or group).
func Pending(ctx context.Context, c client.Client, namespace string) ([]v1alpha1.ExceptionRequest, error) {
	var list v1alpha1.ExceptionRequestList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	access := &accessCache{check: func(resource string) (bool, error) { return selfAllowedToApprove(ctx, c, resource) }}
	var who *authnv1.UserInfo
	whoAmI := func() (*authnv1.UserInfo, error) {
		if who == nil {
			u, err := selfUser(ctx, c)
			if err != nil {
				return nil, err
			}
			who = u
		}
		return who, nil
	}
	return waitingOn(list.Items, whoAmI, access.allowed)
}

// waitingOn keeps the pending requests with a current stage that the user may
// decide, sorted by stage deadline (none last), then namespace and name. whoAmI
// is only called for requests waiting on an escalation owner.
func waitingOn(reqs []v1alpha1.ExceptionRequest, whoAmI func() (*authnv1.UserInfo, error), allowed func(resource string) (bool, error)) ([]v1alpha1.ExceptionRequest, error) {
	var out []v1alpha1.ExceptionRequest
	for _, r := range reqs {
		st := r.Status
		if st.Phase != v1alpha1.PhasePending || st.CurrentStage == "" {
			continue
		}
		path, owner := "", ""
		if st.ReviewPath != nil {
			path, owner = st.ReviewPath.Name, st.ReviewPath.EscalationOwner
		}
		if st.CurrentStage == review.EscalationStage && owner != "" {
			u, err := whoAmI()
			if err != nil {
				return nil, err
			}
			if u.Username == owner || slices.Contains(u.Groups, owner) {
				out = append(out, r)
				continue
			}
		}
		ok, err := allowed(guard.ApproverResource(path, st.CurrentStage))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b v1alpha1.ExceptionRequest) int {
		da, db := a.Status.StageDeadline, b.Status.StageDeadline
		switch {
		case da == nil && db != nil:
			return 1
		case da != nil && db == nil:
			return -1
		case da != nil && db != nil && !da.Equal(db):
			return da.Compare(db.Time)
		}
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// accessCache remembers, within one run, whether the user may approve as each
// reviewpaths resourceName, so each is asked at most once.
type accessCache struct {
	check   func(resource string) (bool, error)
	answers map[string]bool
}

func (a *accessCache) allowed(resource string) (bool, error) {
	if ok, found := a.answers[resource]; found {
		return ok, nil
	}
	ok, err := a.check(resource)
	if err != nil {
		return false, err
	}
	if a.answers == nil {
		a.answers = map[string]bool{}
	}
	a.answers[resource] = ok
	return ok, nil
}

// selfAllowedToApprove asks the API server whether the user may approve as resource.
func selfAllowedToApprove(ctx context.Context, c client.Client, resource string) (bool, error) {
	ssar := &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authzv1.ResourceAttributes{
			Group: v1alpha1.GroupVersion.Group, Resource: "reviewpaths", Name: resource, Verb: "approve",
		},
	}}
	if err := c.Create(ctx, ssar); err != nil {
		return false, fmt.Errorf("checking whether you may approve as reviewpaths/%s: %w", resource, err)
	}
	return ssar.Status.Allowed, nil
}

// selfUser asks the API server who the user is.
func selfUser(ctx context.Context, c client.Client) (*authnv1.UserInfo, error) {
	ssr := &authnv1.SelfSubjectReview{}
	if err := c.Create(ctx, ssr); err != nil {
		return nil, fmt.Errorf("asking the API server who you are: %w", err)
	}
	return &ssr.Status.UserInfo, nil
}

// writePending prints the requests as a table, or says there are none.
func writePending(w io.Writer, reqs []v1alpha1.ExceptionRequest, namespace string, now time.Time) error {
	if len(reqs) == 0 {
		where := "in any namespace"
		if namespace != "" {
			where = "in namespace " + namespace
		}
		_, err := fmt.Fprintf(w, "No pending exception requests are waiting on you %s.\n", where)
		return err
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "NAMESPACE\tNAME\tTYPE\tPARTNER\tSTAGE\tDEADLINE\tAGE\n")
	for _, r := range reqs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Name, r.Spec.Type, r.Spec.Partner,
			r.Status.CurrentStage, timestamp(r.Status.StageDeadline, now), age(r.CreationTimestamp.Time, now))
	}
	return tw.Flush()
}

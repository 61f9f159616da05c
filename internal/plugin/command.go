package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
)

// Version is the plugin's version, printed by --version (main sets it from its build stamp).
var Version = "dev"

// NewCommand is `kubectl partnergov`. It takes kubectl's usual connection flags
// (--kubeconfig, --context, -n, ...), so it acts as the user running it: the API
// server, not the plugin, decides who the reviewer is.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:           "kubectl-partnergov",
		Short:         "Operate a partnergov partner program from kubectl",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	flags.AddFlags(root.PersistentFlags())
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(
		decisionCommand(flags, streams, "approve", v1alpha1.DecisionApprove),
		decisionCommand(flags, streams, "deny", v1alpha1.DecisionDeny),
		explainCommand(flags, streams),
		scorecardCommand(flags, streams),
		pendingCommand(flags, streams),
		historyCommand(flags, streams),
		dealsCommand(flags, streams),
		registerCommand(flags, streams),
		evidenceCommand(flags, streams),
		recordsCommand(flags, streams),
	)
	root.AddCommand(reportCommand(flags, streams))
	root.AddCommand(simulateCommand(flags, streams))
	return root
}

func decisionCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, use string, verdict v1alpha1.DecisionVerdict) *cobra.Command {
	var stage, reason string
	cmd := &cobra.Command{
		Use:     use + " REQUEST --reason TEXT [--stage STAGE]",
		Short:   fmt.Sprintf("Record your %s decision on an ExceptionRequest's current (or named) stage", verdict),
		Example: fmt.Sprintf(`  kubectl partnergov %s acme-q4-launch-funds -n partners --stage finance --reason "within the quarter's budget"`, use),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return fmt.Errorf("--reason is required: every decision records its rationale")
			}
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			req, err := Decide(cmd.Context(), c, types.NamespacedName{Namespace: ns, Name: args[0]}, stage, verdict, reason)
			if err != nil {
				return err
			}
			d := req.Status.Decisions[len(req.Status.Decisions)-1]
			fmt.Fprintf(streams.Out, "exceptionrequest %s/%s: %s recorded for stage %s by %s\n", ns, req.Name, d.Decision, d.Stage, d.Reviewer)
			return nil
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "the stage to decide (default: the request's current stage)")
	cmd.Flags().StringVar(&reason, "reason", "", "the rationale recorded with the decision (required)")
	return cmd
}

func newClient(flags *genericclioptions.ConfigFlags) (client.Client, string, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, "", err
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: app.Scheme})
	return c, ns, err
}

// Run executes the command line args against streams; main and the tests call it.
func Run(ctx context.Context, streams genericiooptions.IOStreams, args []string) error {
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
)

// defaultRegisterWait is how long register waits for the controller's first decision.
const defaultRegisterWait = 5 * time.Second

func registerCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var in RegistrationFields
	var csvPath, dryRun string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "register NAME --partner P --type Resale|Referral|CoSell --customer-name NAME --customer-domain DOMAIN --product-line LINE --amount N --currency CUR [flags] | register --csv FILE",
		Short: "Register deals from flags or a CSV file (one registration per row), as the user running it, and show the controller's first decision",
		Long: `register creates DealRegistrations as the user running it (the API server stamps the registrant and the
submission time), then waits up to --wait for the controller's first decision and prints one line per
registration: its phase, the reason, who holds the customer when it is queued, and the end of its
protection. Warnings of the API server (a customer already held) are printed as they come.

--csv FILE (- for standard input) reads a header row naming the columns, then one registration per row.
The columns are the flags' names: name, partner, type, customer-name, customer-domain, duns, country,
segment, product-line, amount, currency, expected-close, influencer, external-id (case, spaces and
underscores do not matter). An influencer or external-id cell may hold several, separated by ";". Flags
given with --csv fill the cells that are empty or whose column is absent (for example --partner for
every row). Rows are numbered as a spreadsheet shows them (the header is row 1) and registered in file
order, which is submission order. A file with any wrong cell registers nothing; a row the server refuses
is reported by row and column, and the other rows are registered.

Without a name (no NAME column, or an empty cell) the name is generated from the partner, the customer's
domain and the product line, so registering the same file twice registers nothing twice.

An influencer is partner:role[:namespace][@time] (role Introduction, TechnicalWin, Implementation or
Marketplace; time a date or RFC 3339 time, now when absent); an external ID is system=id. --dry-run
(server) sends every registration through admission without creating it.`,
		Example: `  kubectl partnergov register acme-globex-sync -n partners --partner acme-consulting --type Resale \
      --customer-name "Globex Corp" --customer-domain globex.com --product-line sync --amount 25000 --currency USD \
      --expected-close 2027-03-31 --influencer nimbus-si:TechnicalWin --external-id salesforce=006Dn00000AbCdE
  kubectl partnergov register -n partners --csv q1-deals.csv --partner acme-consulting
  kubectl partnergov register -n partners --csv - --dry-run < q1-deals.csv`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch dryRun {
			case "", "none", "server":
			case "client":
				return fmt.Errorf("--dry-run=client is not offered: the API server and partnergov's webhooks decide what is valid; use --dry-run (server)")
			default:
				return fmt.Errorf("--dry-run=%s: the value is server or none", dryRun)
			}
			if wait < 0 {
				return fmt.Errorf("--wait %s: give a duration of 0 (do not wait) or more", wait)
			}
			_, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			now := time.Now()
			var regs []RowRegistration
			switch {
			case csvPath != "" && len(args) > 0:
				return fmt.Errorf("with --csv the names come from the file's name column (or are generated): give no NAME")
			case csvPath != "":
				in.Name = ""
				var r io.Reader = streams.In
				if csvPath != "-" {
					file, err := os.Open(csvPath)
					if err != nil {
						return err
					}
					defer file.Close()
					r = file
				}
				if regs, err = ParseRegistrationsCSV(r, ns, in, now); err != nil {
					var rerrs RowErrors
					if errors.As(err, &rerrs) {
						mistakes := "1 mistake"
						if len(rerrs) > 1 {
							mistakes = fmt.Sprintf("%d mistakes", len(rerrs))
						}
						return fmt.Errorf("nothing registered: the CSV has %s:\n%w", mistakes, err)
					}
					return err
				}
			case len(args) == 0:
				return fmt.Errorf("give the registration's NAME, or register from --csv FILE")
			default:
				in.Name = args[0]
				d, errs := BuildRegistration(ns, in, now)
				if len(errs) > 0 {
					var rerrs RowErrors
					for _, e := range errs {
						rerrs = append(rerrs, RowError{Column: e.Column, Err: errors.New(e.Message)})
					}
					return rerrs
				}
				regs = []RowRegistration{{Deal: d}}
			}
			c, err := newBatchClient(flags, streams.ErrOut)
			if err != nil {
				return err
			}
			results := Register(cmd.Context(), c, regs, RegisterOptions{DryRun: dryRun == "server", Wait: wait})
			return writeRegistered(streams.Out, streams.ErrOut, results, csvPath != "", time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&csvPath, "csv", "", "register one deal per row of this CSV file (- for standard input); its header names the columns")
	fl.StringVar(&in.Partner, colPartner, "", "the registering Partner, in the namespace")
	fl.StringVar(&in.Type, colType, "", "Resale (needs Resell), Referral (needs nothing) or CoSell (needs CoSell for the segment)")
	fl.StringVar(&in.CustomerName, colCustomerName, "", `the customer's name, such as "Globex Corp"`)
	fl.StringVar(&in.CustomerDomain, colCustomerDomain, "", "the customer's web or e-mail domain, such as globex.com (free-mail domains are refused)")
	fl.StringVar(&in.DUNS, colDUNS, "", "the customer's nine-digit D-U-N-S number (the conflict key when given)")
	fl.StringVar(&in.Country, colCountry, "", "the customer's ISO 3166-1 alpha-2 country code, such as US")
	fl.StringVar(&in.Segment, colSegment, "", "the customer's segment, such as enterprise")
	fl.StringVar(&in.ProductLine, colProductLine, "", "the product line, such as sync")
	fl.StringVar(&in.Amount, colAmount, "", "the amount the deal is expected to be worth, such as 25000")
	fl.StringVar(&in.Currency, colCurrency, "", "the ISO 4217 currency of the amount, such as USD")
	fl.StringVar(&in.Expected, colExpectedClose, "", "the expected close date, such as 2027-03-31")
	fl.StringArrayVar(&in.Influencers, colInfluencer, nil, "an influencing partner, partner:role[:namespace][@time] (repeatable)")
	fl.StringArrayVar(&in.ExternalIDs, colExternalID, nil, "the deal's ID in another system, system=id (repeatable)")
	fl.StringVar(&in.PublicTender, colPublicTender, "", "yes when the customer buys through a public tender (the program decides whether such deals are eligible)")
	fl.DurationVar(&wait, "wait", defaultRegisterWait, "how long to wait for the controller's first decision (0: do not wait)")
	fl.StringVar(&dryRun, "dry-run", "none", "server: send the registrations through admission without creating them")
	fl.Lookup("dry-run").NoOptDefVal = "server"
	return cmd
}

// warningsKey is the context key of the warnings a request collects.
type warningsKey struct{}

// warningCollector hands each API server warning to the request that got it
// (its context holds a *[]string), or writes it to out.
type warningCollector struct{ out io.Writer }

func (w warningCollector) HandleWarningHeaderWithContext(ctx context.Context, code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	if ws, ok := ctx.Value(warningsKey{}).(*[]string); ok {
		*ws = append(*ws, text)
		return
	}
	fmt.Fprintln(w.out, "Warning:", text)
}

// newBatchClient is the user's client with its warnings collected per
// request, and a rate limit for a file of registrations unless the kubeconfig
// sets one.
func newBatchClient(flags *genericclioptions.ConfigFlags, errOut io.Writer) (client.Client, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = nil
	cfg.WarningHandlerWithContext = warningCollector{out: errOut}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 20, 40
	}
	return client.New(cfg, client.Options{Scheme: app.Scheme})
}

// RegisterOptions says how Register registers.
type RegisterOptions struct {
	// DryRun sends each registration through admission without creating it.
	DryRun bool
	// Wait is how long to wait for the controller's first decisions.
	Wait time.Duration
	// Poll is how often to read the registrations while waiting (250ms when 0).
	Poll time.Duration
}

// Registered is what became of one registration.
type Registered struct {
	Row int
	// Deal is the registration as last read, or as sent when refused.
	Deal *v1alpha1.DealRegistration
	// Warnings the API server returned with the create.
	Warnings []string
	// Err is the server's refusal.
	Err error
	// Created is true once the server admitted the registration (and
	// DryRun is false).
	Created bool
}

// Register creates the registrations in order (their order is their submission
// order), each as its own request, collecting the API server's warnings; then
// it waits up to o.Wait for the controller to decide each one it created.
func Register(ctx context.Context, c client.Client, regs []RowRegistration, o RegisterOptions) []Registered {
	out := make([]Registered, len(regs))
	for i, r := range regs {
		res := Registered{Row: r.Row, Deal: r.Deal.DeepCopy()}
		wctx := context.WithValue(ctx, warningsKey{}, &res.Warnings)
		var opts []client.CreateOption
		if o.DryRun {
			opts = append(opts, client.DryRunAll)
		}
		if err := c.Create(wctx, res.Deal, opts...); err != nil {
			if apierrors.IsAlreadyExists(err) && r.NameGenerated {
				err = fmt.Errorf("%w: the name is generated from partner, customer-domain and product-line, so this row was registered before; give it a name to register it again", err)
			}
			res.Err = err
		} else {
			res.Created = !o.DryRun
		}
		out[i] = res
	}
	if o.Wait <= 0 || o.DryRun {
		return out
	}
	poll := o.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	deadline := time.Now().Add(o.Wait)
	for {
		pending := 0
		for i := range out {
			if !out[i].Created || Decided(out[i].Deal.Status.Phase) {
				continue
			}
			var got v1alpha1.DealRegistration
			if err := c.Get(ctx, client.ObjectKeyFromObject(out[i].Deal), &got); err == nil {
				out[i].Deal = &got
			} else if !apierrors.IsNotFound(err) {
				return out // cannot read them (no RBAC get): show them as created
			}
			if !Decided(out[i].Deal.Status.Phase) {
				pending++
			}
		}
		if pending == 0 || !time.Now().Before(deadline) {
			return out
		}
		select {
		case <-ctx.Done():
			return out
		case <-time.After(poll):
		}
	}
}

// Decided reports whether the controller has decided a registration: any phase
// but Submitted (or none yet).
func Decided(p v1alpha1.DealPhase) bool {
	return p != "" && p != v1alpha1.DealSubmitted
}

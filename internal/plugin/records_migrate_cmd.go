package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"

	"github.com/partnergov/partnergov/internal/records/pgstore"
)

func recordsCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "records",
		Short: "Operate the store DecisionRecords are kept in",
	}
	cmd.AddCommand(recordsMigrateCommand(flags, streams))
	return cmd
}

// recordsAPIService is the APIService of the records' group version: kube-apiserver's
// own while the CRD serves the group, the records server's once it is registered.
const recordsAPIService = "v1alpha1." + RecordsGroup

var apiServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

func recordsMigrateCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var dsn, dsnFile, fromGroup, guardedUntil string
	var chunk int64
	cmd := &cobra.Command{
		Use:   "migrate --dsn DSN | --dsn-file FILE [--from-group GROUP] [--chunk-size N]",
		Short: "Copy every DecisionRecord of the CRD store into the records server's PostgreSQL database, then check the copy",
		Long: `Copies every DecisionRecord of the CRD store (all namespaces) into the records database, straight
through PostgreSQL: run it before the records server is registered, while the CRD still serves
records.partnergov.io. It applies the database's schema first (the DSN's role must own the schema, or
the schema must be up to date). A record the database holds already is skipped when it is the same and
named as an error when it is not, so running it again copies only what is new, and a run that was
killed is resumed by running it again. Then it checks that every namespace holds as many records
(retained now) in both stores and that every record's spec is the same, and prints the next steps.

--from-group governance.partnergov.io copies the records of installs that upgraded from before records
had their own group (their labels become today's records.partnergov.io/ ones).`,
		Example: `  kubectl partnergov records migrate --dsn-file records-owner.dsn
  kubectl partnergov records migrate --dsn 'postgres://partnergov@db.example.com:5432/records?sslmode=verify-full'
  kubectl partnergov records migrate --dsn-file records-owner.dsn --from-group governance.partnergov.io`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dsn, err := readMigrateDSN(dsn, dsnFile)
			if err != nil {
				return err
			}
			if fromGroup != RecordsGroup && fromGroup != OldRecordsGroup {
				return fmt.Errorf("--from-group %q: records are read from %s (the CRD store) or %s (the CRD of installs from before records had a group of their own)",
					fromGroup, RecordsGroup, OldRecordsGroup)
			}
			if chunk <= 0 {
				return fmt.Errorf("--chunk-size must be 1 or more, not %d", chunk)
			}
			cfg, err := flags.ToRESTConfig()
			if err != nil {
				return err
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return err
			}
			var createdBefore time.Time
			if fromGroup == RecordsGroup {
				if err := theCRDServesRecords(ctx, dyn); err != nil {
					return err
				}
			} else if createdBefore, err = oldGroupGuardedUntil(ctx, dyn, guardedUntil); err != nil {
				return err
			}
			db, err := pgstore.Open(ctx, dsn)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				return fmt.Errorf("preparing the records database's schema: %w", err)
			}
			source := dyn.Resource(schema.GroupVersionResource{Group: fromGroup, Version: "v1alpha1", Resource: "decisionrecords"})
			fmt.Fprintf(streams.Out, "source: decisionrecords.%s (all namespaces)\n", fromGroup)
			if _, err := MigrateRecords(ctx, listPager(source.List), db, MigrateOptions{PageSize: chunk, Out: streams.Out, CreatedBefore: createdBefore}); err != nil {
				return err
			}
			writeMigrateNextSteps(streams.Out, fromGroup)
			return nil
		},
	}
	cmd.Flags().StringVar(&dsn, "dsn", "", "the records database's PostgreSQL DSN (URL or key=value); the schema owner's the first time")
	cmd.Flags().StringVar(&dsnFile, "dsn-file", "", "a file holding the DSN (keeps the password out of the shell's history)")
	cmd.Flags().StringVar(&fromGroup, "from-group", RecordsGroup, "the API group to read DecisionRecords from: "+RecordsGroup+" or "+OldRecordsGroup)
	cmd.Flags().StringVar(&guardedUntil, "old-group-guarded-until", "", "with --from-group "+OldRecordsGroup+": when the old release's webhook stopped guarding its records "+
		"(RFC 3339; default: when the first CRD of today's release was created, "+strings.Join(upgradeCRDs, " or ")+"); records created since are not copied")
	cmd.Flags().Int64Var(&chunk, "chunk-size", MigratePageSize, "how many records to read and copy at a time")
	return cmd
}

// upgradeCRDs are CRDs that came with the release that moved records out of
// the old group: the upgrade that created the first of them also replaced the
// webhook that let only the controller create records in the old group.
var upgradeCRDs = []string{"decisionrecords." + RecordsGroup, "recordchains." + OldRecordsGroup}

var crds = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// oldGroupGuardedUntil is when the old group's records stopped being guarded
// by partnergov's webhook: flag (RFC 3339) when given, else the creation of the
// oldest of upgradeCRDs (kube-apiserver sets creationTimestamp; nobody
// backdates it). A record of the old group created since was made past the
// webhooks, by whoever RBAC lets write that CRD, and is not copied.
func oldGroupGuardedUntil(ctx context.Context, dyn dynamic.Interface, flag string) (time.Time, error) {
	if flag != "" {
		t, err := time.Parse(time.RFC3339, flag)
		if err != nil {
			return time.Time{}, fmt.Errorf("--old-group-guarded-until %q: not an RFC 3339 time (2026-03-05T10:00:00Z): %w", flag, err)
		}
		return t, nil
	}
	var oldest time.Time
	for _, name := range upgradeCRDs {
		crd, err := dyn.Resource(crds).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("reading CRD %s to tell when the old group's records stopped being guarded (needs a cluster admin; or pass --old-group-guarded-until): %w", name, err)
		}
		if t := crd.GetCreationTimestamp().Time; !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return time.Time{}, fmt.Errorf("cannot tell when the old group's records stopped being guarded: neither CRD %s exists; pass --old-group-guarded-until (when you upgraded)",
			strings.Join(upgradeCRDs, " nor "))
	}
	return oldest, nil
}

// readMigrateDSN is the DSN of --dsn or --dsn-file: exactly one of them.
func readMigrateDSN(dsn, file string) (string, error) {
	switch {
	case dsn != "" && file != "":
		return "", errors.New("--dsn and --dsn-file both given: pass one")
	case dsn != "":
		return dsn, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--dsn-file: %w", err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("--dsn-file %s is empty", file)
	}
	return "", errors.New("--dsn or --dsn-file is required: the records database's PostgreSQL DSN")
}

// theCRDServesRecords refuses to go on when the records server is registered
// for records.partnergov.io: the group's records then come from the very
// database migrate writes, and the CRD store's are out of reach.
func theCRDServesRecords(ctx context.Context, dyn dynamic.Interface) error {
	svc, err := dyn.Resource(apiServices).Get(ctx, recordsAPIService, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("nothing serves %s/v1alpha1 (no APIService %s): is the DecisionRecord CRD installed?", RecordsGroup, recordsAPIService)
	case err != nil:
		return fmt.Errorf("cannot tell whether the records server serves %s already (reading APIService %s needs a cluster admin): %w",
			RecordsGroup, recordsAPIService, err)
	}
	if name, found, _ := unstructured.NestedString(svc.Object, "spec", "service", "name"); found {
		ns, _, _ := unstructured.NestedString(svc.Object, "spec", "service", "namespace")
		return fmt.Errorf("APIService %s points at Service %s/%s: the records server serves %s already, so the CRD store's records are out of reach "+
			"and listing them would read the records database itself; migrate copies from the CRD store before the records server is registered "+
			"(docs/operations.md, Moving records from the CRD store to PostgreSQL)", recordsAPIService, ns, name, RecordsGroup)
	}
	return nil
}

// writeMigrateNextSteps prints what follows a successful copy.
func writeMigrateNextSteps(w io.Writer, group string) {
	if group == OldRecordsGroup {
		fmt.Fprintf(w, `
The records of %[1]s are in the records database. Next:
  1. Copy the records of %[2]s the same way: run this command without --from-group (and follow its steps).
  2. Once the records server serves %[2]s, the old CRD and its records in etcd may go:
       kubectl delete crd decisionrecords.%[1]s
`, group, RecordsGroup)
		return
	}
	fmt.Fprintf(w, `
Next steps (docs/operations.md, Moving records from the CRD store to PostgreSQL):
  1. Stop the manager, so that no record is made while the last ones are copied:
       kubectl -n partnergov-system scale deployment/partnergov-controller-manager --replicas=0
  2. Run this command again: it copies the records made since this run (the delta) and checks again.
  3. Install the records server: upgrade the release with records.store=postgres (the DSN from a Secret).
  4. Delete the records CRD, which deletes the records' copies in etcd:
       kubectl delete crd decisionrecords.%[1]s
     and check that the records server serves the group and holds every record:
       kubectl get apiservice %[2]s
       kubectl get decisionrecords -A --chunk-size=500 --no-headers | wc -l
  5. Start the manager:
       kubectl -n partnergov-system scale deployment/partnergov-controller-manager --replicas=2
`, RecordsGroup, recordsAPIService)
}

// Package recordmigrate tests `kubectl partnergov records migrate` against a
// real control plane whose CRD store holds records of several namespaces, and
// a throwaway PostgreSQL, and the upgrade path from the CRD store to the
// records server that docs/operations.md describes.
package recordmigrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/records/pgstore"
	"github.com/partnergov/partnergov/test/postgres"
	"github.com/partnergov/partnergov/test/testenv"
)

// Resource is the records' resource in their group of today.
var Resource = schema.GroupVersionResource{Group: plugin.RecordsGroup, Version: "v1alpha1", Resource: "decisionrecords"}

const year = 365 * 24 * time.Hour

// seeded is how many records of the shared control plane's CRD store each
// namespace holds: more than a page of 500 in all.
var seeded = map[string]int{"partners": 300, "emea": 150, "apac": 70}

// seededTotal is the sum of seeded.
const seededTotal = 520

var (
	pg      *postgres.Server
	env     *testenv.Env
	kubeDir string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	if pg, err = postgres.Start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "the migration's tests need PostgreSQL: %v\n", err)
		return 1
	}
	defer func() { _ = pg.Stop() }()
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if kubeDir, err = os.MkdirTemp("", "partnergov-recordmigrate-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(kubeDir) }()
	if err := seed(ctx, env, seeded); err != nil {
		fmt.Fprintln(os.Stderr, "seeding the CRD store:", err)
		return 1
	}
	return m.Run()
}

// recordObject is a DecisionRecord of partner's tier change at t, as the manager makes it.
func recordObject(gv schema.GroupVersion, ns, name, partner string, t time.Time, retention time.Duration, lbls map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gv.String(), "kind": "DecisionRecord",
		"metadata": map[string]any{"namespace": ns, "name": name, "labels": lbls},
		"spec": map[string]any{
			"type":              "TierChange",
			"subject":           map[string]any{"kind": "Partner", "name": partner, "uid": "0b5c6f0e-1111-4222-8333-444455556666"},
			"partner":           partner,
			"program":           "global",
			"time":              t.UTC().Format(time.RFC3339),
			"actor":             "partnergov-controller",
			"reason":            "Promoted",
			"message":           "met every requirement of Gold at " + name,
			"from":              "Silver",
			"to":                "Gold",
			"evidence":          []any{map[string]any{"metric": "sourced-revenue", "value": "250000"}},
			"policyGenerations": map[string]any{"tier": int64(3), "program": int64(7)},
			"retainUntil":       t.Add(retention).UTC().Format(time.RFC3339),
		},
	}}
}

// seed creates namespaces and, as the manager, their records in the CRD
// store; apac's first record is past its retention already.
func seed(ctx context.Context, env *testenv.Env, counts map[string]int) error {
	mc, err := env.ManagerConfig(ctx)
	if err != nil {
		return err
	}
	admin := kubernetes.NewForConfigOrDie(env.Config)
	records := dynamic.NewForConfigOrDie(fast(mc)).Resource(Resource)
	base := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	type job struct {
		ns string
		i  int
	}
	jobs := make(chan job)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				partner := fmt.Sprintf("partner-%02d", j.i%25)
				retention, at := 7*year, base.Add(time.Duration(j.i)*time.Minute)
				if j.ns == "apac" && j.i == 0 {
					retention, at = 24*time.Hour, time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
				}
				u := recordObject(Resource.GroupVersion(), j.ns, fmt.Sprintf("%s-tier-%04d", partner, j.i), partner, at, retention,
					map[string]any{record.LabelPartner: partner, record.LabelType: "TierChange"})
				// Records carry their place in the partner's chain (its digest is
				// not checked here: the copy keeps the spec, the chain with it).
				digest := sha256.Sum256([]byte(j.ns + "/" + u.GetName()))
				_ = unstructured.SetNestedMap(u.Object, map[string]any{"sequence": int64(j.i/25 + 1), "digest": hex.EncodeToString(digest[:])}, "spec", "chain")
				if _, err := records.Namespace(j.ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var failed error
	for ns, n := range counts {
		if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			failed = err
			break
		}
		for i := range n {
			select {
			case jobs <- job{ns, i}:
			case failed = <-errs:
			}
			if failed != nil {
				break
			}
		}
		if failed != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if failed == nil && len(errs) > 0 {
		failed = <-errs
	}
	return failed
}

// fast lifts client-side throttling for seeding.
func fast(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.QPS, c.Burst = 500, 1000
	return c
}

var databases atomic.Int64

// database creates an empty records database and returns its name and DSN.
func database(t *testing.T) (string, string) {
	t.Helper()
	name := fmt.Sprintf("records_%d", databases.Add(1))
	dsn, err := pg.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return name, dsn
}

// adminKubeconfig writes a cluster admin's kubeconfig of e and returns its path.
func adminKubeconfig(t *testing.T, e *testenv.Env, name string) string {
	t.Helper()
	b, err := e.UserKubeconfig("migrate-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(kubeDir, name+".kubeconfig")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// migrate runs `kubectl partnergov records migrate` with args and returns its output.
func migrate(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := plugin.Run(ctx, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		append([]string{"records", "migrate", "--kubeconfig", kubeconfig}, args...))
	return out.String() + errOut.String(), err
}

// countsIn returns the records of database db by namespace.
func countsIn(ctx context.Context, t *testing.T, db string) string {
	t.Helper()
	out, err := pg.Psql(ctx, db, `SELECT string_agg(namespace || '=' || n, ' ' ORDER BY namespace) FROM (SELECT namespace, count(*) AS n FROM decision_records GROUP BY namespace) c`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const seededCounts = "apac=70 emea=150 partners=300"

func TestMigrateCopiesEveryRecordAndASecondRunCopiesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, dsn := database(t)
	kubeconfig := adminKubeconfig(t, env, "shared")

	out, err := migrate(ctx, kubeconfig, "--dsn", dsn)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, want := range []string{
		"500 read: 500 copied, 0 already present", // progress, a page of 500 at a time
		fmt.Sprintf("copied %d decision records, 0 were present already", seededTotal),
		"every record's spec is the same in both stores",
		"Stop the manager", "Run this command again", "records.store=postgres",
		"kubectl delete crd decisionrecords.records.partnergov.io", "--replicas=2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate's output lacks %q:\n%s", want, out)
		}
	}
	if got := countsIn(ctx, t, db); got != seededCounts {
		t.Errorf("the records database holds %s, want %s", got, seededCounts)
	}

	out, err = migrate(ctx, kubeconfig, "--dsn", dsn)
	if err != nil {
		t.Fatalf("migrate again: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("copied 0 decision records, %d were present already", seededTotal); !strings.Contains(out, want) {
		t.Errorf("a second run's output lacks %q:\n%s", want, out)
	}
	if got := countsIn(ctx, t, db); got != seededCounts {
		t.Errorf("after a second run the records database holds %s, want %s", got, seededCounts)
	}
}

// cancelAfter is a records database whose context is cancelled after n
// creates, as when migrate is killed midway.
type cancelAfter struct {
	plugin.RecordDatabase
	n       int
	created int
	cancel  context.CancelFunc
}

func (c *cancelAfter) Create(ctx context.Context, r *pgstore.Record) (*pgstore.Record, error) {
	if c.created == c.n {
		c.cancel()
	}
	out, err := c.RecordDatabase.Create(ctx, r)
	if err == nil {
		c.created++
	}
	return out, err
}

// openStore opens the records database at dsn with its schema.
func openStore(ctx context.Context, t *testing.T, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// source lists the shared control plane's records as a cluster admin.
func source(c *rest.Config) plugin.RecordPager {
	list := dynamic.NewForConfigOrDie(c).Resource(Resource).List
	return func(ctx context.Context, limit int64, cont string) (*unstructured.UnstructuredList, error) {
		return list(ctx, metav1.ListOptions{Limit: limit, Continue: cont})
	}
}

func TestAMigrationKilledMidwayCompletesWhenRunAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, dsn := database(t)
	store := openStore(ctx, t, dsn)

	killed, kill := context.WithCancel(ctx)
	cut := &cancelAfter{RecordDatabase: store, n: 130, cancel: kill}
	_, err := plugin.MigrateRecords(killed, source(env.Config), cut, plugin.MigrateOptions{PageSize: 100})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("a migration cancelled after 130 records: %v, want the cancellation", err)
	}
	copied, err := pg.Psql(ctx, db, `SELECT count(*) FROM decision_records`)
	if err != nil {
		t.Fatal(err)
	}
	if copied != "130" {
		t.Fatalf("the killed run copied %s records, want 130", copied)
	}

	var out bytes.Buffer
	res, err := plugin.MigrateRecords(ctx, source(env.Config), store, plugin.MigrateOptions{PageSize: 100, Out: &out})
	if err != nil {
		t.Fatalf("running it again: %v\n%s", err, out.String())
	}
	if res.Copied != seededTotal-130 || res.Present != 130 || res.Read != seededTotal {
		t.Errorf("running it again read %d, copied %d, found %d present; want %d, %d, 130", res.Read, res.Copied, res.Present, seededTotal, seededTotal-130)
	}
	for _, c := range res.Counts {
		want := int64(seeded[c.Namespace])
		if c.Namespace == "apac" {
			want-- // its record past retention is not counted
		}
		if c.Source != want || c.Database != want {
			t.Errorf("namespace %s: %d in the source, %d in the database; want %d in both", c.Namespace, c.Source, c.Database, want)
		}
	}
	if len(res.Counts) != len(seeded) {
		t.Errorf("counts of %d namespaces, want %d: %+v", len(res.Counts), len(seeded), res.Counts)
	}
	if got := countsIn(ctx, t, db); got != seededCounts {
		t.Errorf("the records database holds %s, want %s", got, seededCounts)
	}
}

// alter changes the stored copy of namespace/name past the database's
// append-only trigger (as only the database's owner can), with an SQL
// expression of the stored object.
func alter(ctx context.Context, t *testing.T, db, namespace, name, object string) {
	t.Helper()
	sql := fmt.Sprintf(`SET session_replication_role = replica;
		UPDATE decision_records SET object = %s WHERE namespace = '%s' AND name = '%s'`, object, namespace, name)
	if _, err := pg.Psql(ctx, db, sql); err != nil {
		t.Fatal(err)
	}
}

func TestTheCheckNamesARecordAlteredInPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, dsn := database(t)
	store := openStore(ctx, t, dsn)
	if _, err := plugin.MigrateRecords(ctx, source(env.Config), store, plugin.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	alter(ctx, t, db, "emea", "partner-07-tier-0007", `jsonb_set(object, '{spec,message}', '"a message it never had"')`)
	alter(ctx, t, db, "partners", "partner-02-tier-0027", `jsonb_set(object, '{spec,chain,sequence}', '1')`)

	_, err := plugin.CheckRecords(ctx, source(env.Config), store, plugin.MigrateOptions{})
	if err == nil || !strings.Contains(err.Error(), "emea/partner-07-tier-0007 (spec.message)") ||
		!strings.Contains(err.Error(), "partners/partner-02-tier-0027 (spec.chain)") {
		t.Fatalf("the check after a record's message and another's place in its chain were altered in PostgreSQL: %v, "+
			"want emea/partner-07-tier-0007 named with spec.message and partners/partner-02-tier-0027 with spec.chain", err)
	}
	if strings.Count(err.Error(), "tier-0") != 2 {
		t.Errorf("the check names other records too: %v", err)
	}
}

func TestARecordCopiedBeforeThatDiffersIsNamed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, dsn := database(t)
	store := openStore(ctx, t, dsn)
	if _, err := plugin.MigrateRecords(ctx, source(env.Config), store, plugin.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The labels are no part of the spec: only the copy's comparison sees them.
	alter(ctx, t, db, "partners", "partner-03-tier-0003", `jsonb_set(object, '{metadata,labels,extra}', '"x"')`)

	res, err := plugin.MigrateRecords(ctx, source(env.Config), store, plugin.MigrateOptions{})
	if err == nil || !strings.Contains(err.Error(), "decision record partners/partner-03-tier-0003 differs from its copy in the records database (metadata.labels)") {
		t.Fatalf("migrating again over a copy whose labels changed: %v, want partners/partner-03-tier-0003 named with metadata.labels", err)
	}
	if res.Present != seededTotal-1 || res.Copied != 0 {
		t.Errorf("migrating again found %d present and copied %d; want %d and 0", res.Present, res.Copied, seededTotal-1)
	}
}

func TestTheCheckNamesNamespacesWhoseCountsDiffer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, dsn := database(t)
	store := openStore(ctx, t, dsn)
	if _, err := plugin.MigrateRecords(ctx, source(env.Config), store, plugin.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	extra, err := plugin.RecordForDatabase(recordObject(Resource.GroupVersion(), "emea", "not-in-the-crd-store", "partner-01",
		time.Now().Add(-time.Hour), year, map[string]any{record.LabelPartner: "partner-01"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, extra); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = plugin.CheckRecords(ctx, source(env.Config), store, plugin.MigrateOptions{Out: &out})
	if err == nil || !strings.Contains(err.Error(), "namespace emea: 150 in the source, 151 in the records database") {
		t.Fatalf("the check with a record in PostgreSQL the CRD store lacks: %v, want namespace emea's counts named\n%s", err, out.String())
	}
	if strings.Contains(err.Error(), "namespace partners") || strings.Contains(err.Error(), "namespace apac") {
		t.Errorf("the check names namespaces whose counts are equal: %v", err)
	}
}

// oldCRD is the DecisionRecord CRD of governance.partnergov.io, as installs
// from before records had their own group have it (its schema cut to what
// the test needs).
func oldCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "decisionrecords." + plugin.OldRecordsGroup},
		"spec": map[string]any{
			"group": plugin.OldRecordsGroup, "scope": "Namespaced",
			"names": map[string]any{"kind": "DecisionRecord", "listKind": "DecisionRecordList", "plural": "decisionrecords", "singular": "decisionrecord"},
			"versions": []any{map[string]any{
				"name": "v1alpha1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"spec": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
					},
				}},
			}},
		},
	}}
}

func TestMigrateReadsTheOldGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, dsn := database(t)
	kubeconfig := adminKubeconfig(t, env, "old-group")
	admin := dynamic.NewForConfigOrDie(env.Config)
	crds := admin.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if _, err := crds.Create(ctx, oldCRD(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = crds.Delete(context.Background(), "decisionrecords."+plugin.OldRecordsGroup, metav1.DeleteOptions{})
	})
	old := admin.Resource(schema.GroupVersionResource{Group: plugin.OldRecordsGroup, Version: "v1alpha1", Resource: "decisionrecords"})
	at := time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		u := recordObject(schema.GroupVersion{Group: plugin.OldRecordsGroup, Version: "v1alpha1"}, "partners", fmt.Sprintf("acme-tier-old-%d", i), "acme",
			at.Add(time.Duration(i)*time.Hour), 7*year, map[string]any{
				plugin.OldRecordsGroup + "/partner": "acme", plugin.OldRecordsGroup + "/decision-type": "TierChange"})
		deadline := time.Now().Add(30 * time.Second)
		for { // the CRD is served once established
			_, err := old.Namespace("partners").Create(ctx, u, metav1.CreateOptions{})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The test's CRDs of today's release were created before these records,
	// which migrate would take as made past the old release's webhook: say
	// when that webhook stopped guarding them, as an operator would.
	guardedUntil := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	out, err := migrate(ctx, kubeconfig, "--dsn", dsn, "--from-group", plugin.OldRecordsGroup, "--old-group-guarded-until", guardedUntil)
	if err != nil {
		t.Fatalf("migrate --from-group %s: %v\n%s", plugin.OldRecordsGroup, err, out)
	}
	for _, want := range []string{"copied 3 decision records", "kubectl delete crd decisionrecords.governance.partnergov.io", "without --from-group"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate's output lacks %q:\n%s", want, out)
		}
	}
	rows, err := pg.Psql(ctx, db, `SELECT string_agg(name || ' ' || (object->>'apiVersion') || ' ' || (labels->>'records.partnergov.io/partner') || ' '
		|| (labels->>'records.partnergov.io/decision-type') || ' ' || (labels ? 'governance.partnergov.io/partner')::text, '; ' ORDER BY name) FROM decision_records`)
	if err != nil {
		t.Fatal(err)
	}
	want := "acme-tier-old-0 records.partnergov.io/v1alpha1 acme TierChange false; acme-tier-old-1 records.partnergov.io/v1alpha1 acme TierChange false; " +
		"acme-tier-old-2 records.partnergov.io/v1alpha1 acme TierChange false"
	if rows != want {
		t.Errorf("the records database holds\n  %s\nwant (today's group and labels, which history selects by)\n  %s", rows, want)
	}
}

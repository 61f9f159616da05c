package recordmigrate

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/recordsserver"
	"github.com/partnergov/partnergov/test/testenv"
)

// TestTheUpgradePathFromTheCRDStoreKeepsEveryRecord follows docs/operations.md's
// move from the CRD store to the records server: migrate while the manager
// runs, the records made until it stopped copied by a second run, the
// records server registered, the CRD deleted; then kube-apiserver serves
// every record from PostgreSQL, and migrate refuses to run against it.
func TestTheUpgradePathFromTheCRDStoreKeepsEveryRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	args, err := testenv.AggregationArgs(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := testenv.StartWith(testenv.StartOptions{APIServerArgs: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	if err := seed(ctx, e, map[string]int{"partners": 40, "emea": 25}); err != nil {
		t.Fatal(err)
	}
	db, dsn := database(t)
	kubeconfig := adminKubeconfig(t, e, "upgrade")

	// 1. Migrate while the manager runs.
	if out, err := migrate(ctx, kubeconfig, "--dsn", dsn); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	// 2. Records made before the manager stopped; migrate again copies them.
	if err := seedMore(ctx, e, "emea", 25, 5); err != nil {
		t.Fatal(err)
	}
	out, err := migrate(ctx, kubeconfig, "--dsn", dsn)
	if err != nil || !strings.Contains(out, "copied 5 decision records, 65 were present already") {
		t.Fatalf("migrating the delta: %v\n%s", err, out)
	}

	// 3. The records server, registered.
	rs, err := recordsserver.Start(ctx, e, dsn, dir, recordsserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Stop() })
	if err := rs.Register(ctx, e); err != nil {
		t.Fatal(err)
	}
	if out, err := migrate(ctx, kubeconfig, "--dsn", dsn); err == nil ||
		!strings.Contains(err.Error(), "APIService v1alpha1.records.partnergov.io points at Service partnergov-records/records-server") {
		t.Errorf("migrate once the records server is registered: %v, want a refusal naming the APIService's Service\n%s", err, out)
	}

	// What docs/operations.md says to verify, before and after deleting the
	// CRD: the APIService is the records server's and Available, and kubectl
	// lists every record, from the records database.
	kubectl := filepath.Join(e.BinaryAssetsDirectory, "kubectl")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	verify := func(when string) {
		t.Helper()
		svc := run("get", "apiservice", "v1alpha1.records.partnergov.io")
		if !strings.Contains(svc, "partnergov-records/records-server") || !strings.Contains(svc, "True") {
			t.Errorf("%s the APIService is not the records server's and Available:\n%s", when, svc)
		}
		// The group's discovery moves from the CRD to the APIService (and
		// back to the APIService alone once the CRD is gone): kubectl may not
		// find the resource for a moment while the aggregator catches up.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
			out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache"),
				"get", "decisionrecords", "-A", "--chunk-size=500", "--no-headers").CombinedOutput()
			if err == nil || !strings.Contains(string(out), "doesn't have a resource type") || time.Now().After(deadline) {
				break
			}
		}
		list := run("get", "decisionrecords", "-A", "--chunk-size=500", "--no-headers")
		if n := len(strings.Split(strings.TrimSpace(list), "\n")); n != 70 {
			t.Errorf("%s kubectl lists %d records, want 70:\n%s", when, n, list)
		}
		rv := run("get", "decisionrecords", "-n", "emea", "partner-04-tier-0029", "-o", "jsonpath={.metadata.resourceVersion}")
		if id, err := strconv.Atoi(rv); err != nil || id > 70 {
			t.Errorf("%s the record's resourceVersion %q is not a row id of the records database: the CRD still serves it?", when, rv)
		}
	}
	verify("once the records server is registered,")

	// 4. The CRD deleted, with the records' copies in etcd.
	admin := dynamic.NewForConfigOrDie(e.Config)
	crds := admin.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if err := crds.Delete(ctx, "decisionrecords.records.partnergov.io", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_, err := crds.Get(ctx, "decisionrecords.records.partnergov.io", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the records CRD is not gone a minute after its deletion: %v", err)
		}
	}
	time.Sleep(2 * time.Second) // kube-apiserver's controllers act on the CRD's deletion

	verify("after the CRD's deletion")
	if got := countsIn(ctx, t, db); got != "emea=30 partners=40" {
		t.Errorf("the records database holds %s, want emea=30 partners=40", got)
	}

	// 5. The manager, started again, records into PostgreSQL.
	mc, err := e.ManagerConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := recordObject(Resource.GroupVersion(), "emea", "after-the-move", "partner-01", time.Now().Truncate(time.Second), year,
		map[string]any{record.LabelPartner: "partner-01"})
	if _, err := dynamic.NewForConfigOrDie(mc).Resource(Resource).Namespace("emea").Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := countsIn(ctx, t, db); got != "emea=31 partners=40" {
		t.Errorf("after the manager's next record the records database holds %s, want emea=31 partners=40", got)
	}
}

// seedMore creates n more records in namespace ns as the manager, numbered from first.
func seedMore(ctx context.Context, e *testenv.Env, ns string, first, n int) error {
	mc, err := e.ManagerConfig(ctx)
	if err != nil {
		return err
	}
	records := dynamic.NewForConfigOrDie(mc).Resource(Resource).Namespace(ns)
	for i := first; i < first+n; i++ {
		partner := fmt.Sprintf("partner-%02d", i%25)
		u := recordObject(Resource.GroupVersion(), ns, fmt.Sprintf("%s-tier-%04d", partner, i), partner, time.Now().Truncate(time.Second), 7*year,
			map[string]any{record.LabelPartner: partner, record.LabelType: "TierChange"})
		if _, err := records.Create(ctx, u, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

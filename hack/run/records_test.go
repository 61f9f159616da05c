package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/partnergov/partnergov/test/recordapi"
)

// TestThePostgresStoreServesRecordsFromTheRecordsServer runs `make run
// RECORDS=postgres`'s setup up to the manager: a record the manager creates
// through kube-apiserver lands in PostgreSQL and reads back, and no
// DecisionRecord CRD is installed.
func TestThePostgresStoreServesRecordsFromTheRecordsServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cp := &controlPlane{}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
	})
	if err := cp.start(ctx, storePostgres); err != nil {
		t.Fatal(err)
	}

	crds := dynamic.NewForConfigOrDie(cp.env.Config).Resource(schema.GroupVersionResource{
		Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if _, err := crds.Get(ctx, "decisionrecords.records.partnergov.io", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the DecisionRecord CRD is installed (or cannot be looked up: %v); with it kube-apiserver serves the group, not the records server", err)
	}

	mc, err := cp.env.ManagerConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(cp.env.Config)
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "partners"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	records := dynamic.NewForConfigOrDie(mc).Resource(recordapi.Resource).Namespace("partners")
	rec := recordapi.Record("partners", "acme-tier-promoted", "acme", "TierChange", time.Now().Add(-time.Hour).Truncate(time.Second))
	if _, err := records.Create(ctx, rec, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the manager cannot create a record: %v", err)
	}
	got, err := records.Get(ctx, "acme-tier-promoted", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the record just created does not read back: %v", err)
	}
	if p := got.Object["spec"].(map[string]any)["partner"]; p != "acme" {
		t.Errorf("the record read back has spec.partner %v, want acme", p)
	}

	rows, err := cp.pg.Psql(ctx, recordsDatabase, `SELECT namespace || '/' || name FROM decision_records`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(rows) != "partners/acme-tier-promoted" {
		t.Errorf("PostgreSQL holds %q, want the record partners/acme-tier-promoted", rows)
	}
	if !strings.Contains(cp.psqlCommand(), cp.dsn) || !strings.Contains(cp.dsn, "/"+recordsDatabase+"?") {
		t.Errorf("make run prints %q to reach the records database %s", cp.psqlCommand(), cp.dsn)
	}
}

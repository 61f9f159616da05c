package recordapi

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/postgres"
	"github.com/partnergov/partnergov/test/testenv"
)

// verifyNamesARowEditedInPostgres: the manager chains three decisions of a
// partner into the records server; someone with the database owner's rights
// turns the append-only trigger off and rewrites the middle record's message
// in place; `kubectl partnergov history --verify`, reading through
// kube-apiserver, names that record as altered.
func verifyNamesARowEditedInPostgres(ctx context.Context, t *testing.T, env *testenv.Env, pg *postgres.Server) {
	const ns, partner = "tamper", "acme"
	admin, err := client.New(env.Config, client.Options{Scheme: app.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	mc, err := env.ManagerConfig(ctx) // the generated ClusterRole, bound to the manager
	if err != nil {
		t.Fatal(err)
	}
	manager, err := client.New(mc, client.Options{Scheme: app.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	chain := &controllers.Chain{Client: manager, Reader: manager, Seals: testenv.TestSeals, Clock: clock.RealClock{}}
	at := time.Now().Truncate(time.Second)
	for i := range 3 {
		name := fmt.Sprintf("%s-q%d", partner, i)
		rec := &recordsv1alpha1.DecisionRecord{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{record.LabelPartner: partner}},
			Spec: recordsv1alpha1.DecisionRecordSpec{
				Type: recordsv1alpha1.DecisionRequestOutcome, Partner: partner, Program: "global",
				Subject: recordsv1alpha1.DecisionSubject{Kind: "ExceptionRequest", Name: name},
				Time:    metav1.NewTime(at.Add(time.Duration(i) * time.Second)), Actor: testenv.ManagerUser,
				Reason: "Approved", To: "Approved", Request: name, Message: "approved by finance",
				RetainUntil: metav1.NewTime(at.Add(24 * time.Hour)),
			},
		}
		if err := chain.Record(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	key := types.NamespacedName{Namespace: ns, Name: partner}
	v, err := plugin.VerifyHistory(ctx, admin, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() || v.Chained != 3 {
		t.Fatalf("before the edit: %d chained, findings %v; want 3 and none", v.Chained, v.Findings)
	}
	if out, err := pg.Psql(ctx, "records", `ALTER TABLE decision_records DISABLE TRIGGER USER;
		UPDATE decision_records SET object = jsonb_set(object, '{spec,message}', '"denied by finance"') WHERE namespace = 'tamper' AND name = 'acme-q1';
		ALTER TABLE decision_records ENABLE TRIGGER USER;`); err != nil {
		t.Fatalf("editing the row: %v: %s", err, out)
	}
	v, err = plugin.VerifyHistory(ctx, admin, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var named bool
	for _, f := range v.Findings {
		named = named || f.Kind == record.FindingAltered && strings.Contains(f.Message, "acme-q1")
	}
	if !named {
		t.Errorf("a record edited in PostgreSQL is not named as altered: findings %v", v.Findings)
	}
}

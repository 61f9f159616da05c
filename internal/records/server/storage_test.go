package server

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	clocktesting "k8s.io/utils/clock/testing"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/records/pgstore"
)

// memStore keeps created records in memory.
type memStore struct{ created []*pgstore.Record }

func (m *memStore) Create(_ context.Context, r *pgstore.Record) (*pgstore.Record, error) {
	for _, c := range m.created {
		if c.Namespace == r.Namespace && c.Name == r.Name {
			return nil, &pgstore.AlreadyExistsError{Namespace: r.Namespace, Name: r.Name}
		}
	}
	out := *r
	out.ID = int64(len(m.created) + 1)
	m.created = append(m.created, &out)
	return &out, nil
}

func (m *memStore) Get(_ context.Context, ns, name string) (*pgstore.Record, error) {
	for _, c := range m.created {
		if c.Namespace == ns && c.Name == name {
			return c, nil
		}
	}
	return nil, pgstore.ErrNotFound
}

func (m *memStore) List(context.Context, pgstore.ListOptions) (*pgstore.List, error) {
	return &pgstore.List{Records: m.created}, nil
}

const manager = "system:serviceaccount:partnergov-system:partnergov-controller-manager"

var at = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func validRecord() *recordsv1alpha1.DecisionRecord {
	return &recordsv1alpha1.DecisionRecord{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-tier-1", Labels: map[string]string{"partner": "acme"}},
		Spec: recordsv1alpha1.DecisionRecordSpec{
			Type: "TierChange", Subject: recordsv1alpha1.DecisionSubject{Kind: "Partner", Name: "acme"},
			Partner: "acme", Time: metav1.NewTime(at), Actor: manager, Reason: "Promoted",
			Evidence:    []recordsv1alpha1.EvidenceValue{{Metric: "csat", Value: "4.6"}},
			RetainUntil: metav1.NewTime(at.AddDate(7, 0, 0)),
		},
	}
}

func as(username string) context.Context {
	ctx := request.WithNamespace(context.Background(), "partners")
	return request.WithUser(ctx, &user.DefaultInfo{Name: username})
}

func newREST() (*REST, *memStore) {
	s := &memStore{}
	return &REST{Store: s, Creator: manager, Clock: clocktesting.NewFakePassiveClock(at.Add(time.Minute))}, s
}

func TestOnlyTheManagerCreatesRecords(t *testing.T) {
	r, store := newREST()
	_, err := r.Create(as("alice"), validRecord(), nil, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(),
		"only the partnergov controller ("+manager+") records decisions; alice may read records, not write them") {
		t.Fatalf("alice created a record: %v", err)
	}
	if _, err := r.Create(request.WithNamespace(context.Background(), "partners"), validRecord(), nil, &metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a request without a user created a record: %v", err)
	}
	if len(store.created) != 0 {
		t.Fatalf("refused creates stored %d records", len(store.created))
	}
	out, err := r.Create(as(manager), validRecord(), nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*recordsv1alpha1.DecisionRecord)
	if got.Namespace != "partners" || got.UID == "" || got.ResourceVersion != "1" || !got.CreationTimestamp.Equal(&metav1.Time{Time: at.Add(time.Minute)}) {
		t.Errorf("created %+v, want namespace partners, a uid, resourceVersion 1 and the clock's creationTimestamp", got.ObjectMeta)
	}
	row := store.created[0]
	if row.Partner != "acme" || row.Type != "TierChange" || row.SubjectKind != "Partner" || row.SubjectName != "acme" ||
		!row.Time.Equal(at) || !row.RetainUntil.Equal(at.AddDate(7, 0, 0)) || row.Labels["partner"] != "acme" {
		t.Errorf("stored columns %+v do not match the record", row)
	}
	back, err := r.Get(as("alice"), "acme-tier-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := back.(*recordsv1alpha1.DecisionRecord); b.UID != got.UID || b.Spec.Evidence[0].Value != "4.6" || b.ResourceVersion != "1" {
		t.Errorf("read back %+v", b)
	}
	if _, err := r.Create(as(manager), validRecord(), nil, &metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("recording the same decision again: %v, want AlreadyExists", err)
	}
}

func TestADryRunStoresNothing(t *testing.T) {
	r, store := newREST()
	if _, err := r.Create(as(manager), validRecord(), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if len(store.created) != 0 {
		t.Errorf("a dry run stored %d records", len(store.created))
	}
}

func TestValidateRefusesWhatTheCRDRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(r *recordsv1alpha1.DecisionRecord)
		field string
	}{
		{"no name", func(r *recordsv1alpha1.DecisionRecord) { r.Name = "" }, "metadata.name"},
		{"a name that is no DNS subdomain", func(r *recordsv1alpha1.DecisionRecord) { r.Name = "Acme_Tier" }, "metadata.name"},
		{"no type", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Type = "" }, "spec.type"},
		{"an unknown type", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Type = "Coronation" }, "spec.type"},
		{"an unknown subject kind", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Subject.Kind = "Planet" }, "spec.subject.kind"},
		{"no subject name", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Subject.Name = "" }, "spec.subject.name"},
		{"a subject uid too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Subject.UID = strings.Repeat("u", 65) }, "spec.subject.uid"},
		{"no partner", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Partner = "" }, "spec.partner"},
		{"a partner too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Partner = strings.Repeat("p", 254) }, "spec.partner"},
		{"a program too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Program = strings.Repeat("p", 254) }, "spec.program"},
		{"no actor", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Actor = "" }, "spec.actor"},
		{"no reason", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Reason = "" }, "spec.reason"},
		{"a reason too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Reason = strings.Repeat("R", 65) }, "spec.reason"},
		{"a message too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Message = strings.Repeat("m", 2049) }, "spec.message"},
		{"a from too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.From = strings.Repeat("f", 254) }, "spec.from"},
		{"a to too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.To = strings.Repeat("t", 254) }, "spec.to"},
		{"a request too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Request = strings.Repeat("r", 254) }, "spec.request"},
		{"a stage too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Stage = strings.Repeat("s", 64) }, "spec.stage"},
		{"too much evidence", func(r *recordsv1alpha1.DecisionRecord) {
			r.Spec.Evidence = make([]recordsv1alpha1.EvidenceValue, 65)
			for i := range r.Spec.Evidence {
				r.Spec.Evidence[i] = recordsv1alpha1.EvidenceValue{Metric: "m", Value: "1"}
			}
		}, "spec.evidence"},
		{"evidence metric too long", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Evidence[0].Metric = strings.Repeat("m", 64) }, "spec.evidence[0].metric"},
		{"evidence without a value", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Evidence[0].Value = "" }, "spec.evidence[0].value"},
		{"evidence that is no decimal", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Evidence[0].Value = "4.6 stars" }, "spec.evidence[0].value"},
		{"evidence too precise", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Evidence[0].Value = "1.1234567890" }, "spec.evidence[0].value"},
		{"no time", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Time = metav1.Time{} }, "spec.time"},
		{"no retainUntil", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.RetainUntil = metav1.Time{} }, "spec.retainUntil"},
		{"retained until the decision itself", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.RetainUntil = r.Spec.Time }, "spec.retainUntil"},
		{"retained until before the decision", func(r *recordsv1alpha1.DecisionRecord) { r.Spec.RetainUntil = metav1.NewTime(at.Add(-time.Hour)) }, "spec.retainUntil"},
		{"an owner", func(r *recordsv1alpha1.DecisionRecord) {
			r.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "u"}}
		}, "metadata.ownerReferences"},
		{"a finalizer", func(r *recordsv1alpha1.DecisionRecord) { r.Finalizers = []string{"example.com/keep"} }, "metadata.finalizers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := validRecord()
			rec.Namespace = "partners"
			tc.edit(rec)
			errs := Validate(rec)
			if len(errs) == 0 {
				t.Fatalf("a record with %s is valid", tc.name)
			}
			for _, e := range errs {
				if e.Field != tc.field {
					t.Errorf("error on %s (%v), want only %s", e.Field, e, tc.field)
				}
			}
			r, store := newREST()
			rec.Namespace = ""
			if _, err := r.Create(as(manager), rec, nil, &metav1.CreateOptions{}); !apierrors.IsInvalid(err) || len(store.created) != 0 {
				t.Errorf("creating a record with %s: %v, want Invalid and nothing stored", tc.name, err)
			}
		})
	}
	valid := validRecord()
	valid.Namespace = "partners"
	if errs := Validate(valid); len(errs) > 0 {
		t.Errorf("a valid record is refused: %v", errs)
	}
}

func TestTableHasTheCRDsPrinterColumns(t *testing.T) {
	r, _ := newREST()
	rec := validRecord()
	tab, err := r.ConvertToTable(context.Background(), &recordsv1alpha1.DecisionRecordList{Items: []recordsv1alpha1.DecisionRecord{*rec}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range tab.ColumnDefinitions {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "Name Type Partner Reason Actor Time" {
		t.Errorf("columns %v", names)
	}
	if len(tab.Rows) != 1 || len(tab.Rows[0].Cells) != 6 || tab.Rows[0].Cells[5] != "2026-03-01T09:30:00Z" {
		t.Errorf("rows %+v", tab.Rows)
	}
}

func TestRecordsAreSelectedByTheCRDsSelectableFields(t *testing.T) {
	gvk := recordsv1alpha1.GroupVersion.WithKind("DecisionRecord")
	for _, f := range []string{"metadata.name", "metadata.namespace", "spec.partner", "spec.type"} {
		if _, _, err := Scheme.ConvertFieldLabel(gvk, f, "x"); err != nil {
			t.Errorf("field %s is not selectable: %v", f, err)
		}
	}
	if _, _, err := Scheme.ConvertFieldLabel(gvk, "spec.actor", "x"); err == nil {
		t.Errorf("spec.actor is selectable; the CRD selects by spec.partner and spec.type only")
	}
}

type caBundle []byte

func (c caBundle) Name() string                              { return "test" }
func (c caBundle) CurrentCABundleContent() []byte            { return c }
func (c caBundle) AddListener(dynamiccertificates.Listener)  {}
func (c caBundle) VerifyOptions() (x509.VerifyOptions, bool) { return x509.VerifyOptions{}, len(c) > 0 }

func TestTheServerIsReadyOnlyOnceItCanAuthenticateTheAggregator(t *testing.T) {
	for name, tc := range map[string]struct {
		rh    *authenticatorfactory.RequestHeaderConfig
		ready bool
	}{
		"no request header config": {nil, false},
		"the CA not loaded yet":    {&authenticatorfactory.RequestHeaderConfig{CAContentProvider: caBundle(nil)}, false},
		"the CA loaded":            {&authenticatorfactory.RequestHeaderConfig{CAContentProvider: caBundle("-----BEGIN CERTIFICATE-----")}, true},
	} {
		t.Run(name, func(t *testing.T) {
			err := requestHeaderCACheck(tc.rh).Check(nil)
			if (err == nil) != tc.ready {
				t.Errorf("ready = %v (%v), want %v", err == nil, err, tc.ready)
			}
		})
	}
}

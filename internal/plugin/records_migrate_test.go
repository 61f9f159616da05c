package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/records/pgstore"
)

// sourceRecord is a DecisionRecord as a CRD store lists it.
func sourceRecord(group, name string, labels map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1alpha1", "kind": "DecisionRecord",
		"metadata": map[string]any{
			"namespace": "partners", "name": name, "uid": "6b1c2d3e-0000-4000-8000-000000000001",
			"resourceVersion": "4711", "generation": int64(1), "creationTimestamp": "2026-03-05T10:00:01Z",
			"labels":          labels,
			"annotations":     map[string]any{"note": "kept"},
			"managedFields":   []any{map[string]any{"manager": "partnergov-controller", "operation": "Update"}},
			"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u"}},
			"finalizers":      []any{"example.com/keep"},
		},
		"spec": map[string]any{
			"type": "TierChange", "subject": map[string]any{"kind": "Partner", "name": "acme"},
			"partner": "acme", "time": "2026-03-05T10:00:00Z", "actor": "partnergov-controller", "reason": "Promoted",
			"retainUntil": "2033-03-05T10:00:00Z",
		},
	}}
}

func TestACopyKeepsTheRecordsSpecAndOnlyItsOwnMetadata(t *testing.T) {
	row, err := RecordForDatabase(sourceRecord(RecordsGroup, "acme-tier-1", map[string]any{record.LabelPartner: "acme"}))
	if err != nil {
		t.Fatal(err)
	}
	if row.Namespace != "partners" || row.Name != "acme-tier-1" || row.UID != "6b1c2d3e-0000-4000-8000-000000000001" ||
		row.Partner != "acme" || row.Type != "TierChange" || row.SubjectKind != "Partner" || row.SubjectName != "acme" ||
		!row.Time.Equal(time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)) || !row.RetainUntil.Equal(time.Date(2033, 3, 5, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("the row's columns = %+v", row)
	}
	var obj map[string]any
	if err := json.Unmarshal(row.Object, &obj); err != nil {
		t.Fatal(err)
	}
	meta := obj["metadata"].(map[string]any)
	for _, gone := range []string{"resourceVersion", "managedFields", "ownerReferences", "finalizers"} {
		if _, ok := meta[gone]; ok {
			t.Errorf("the copy keeps metadata.%s: %v", gone, meta[gone])
		}
	}
	if obj["apiVersion"] != "records.partnergov.io/v1alpha1" || meta["creationTimestamp"] != "2026-03-05T10:00:01Z" ||
		meta["annotations"].(map[string]any)["note"] != "kept" || obj["spec"].(map[string]any)["reason"] != "Promoted" {
		t.Errorf("the copy = %s", row.Object)
	}
}

func TestTheOldGroupsLabelsBecomeTodays(t *testing.T) {
	row, err := RecordForDatabase(sourceRecord(OldRecordsGroup, "acme-tier-1", map[string]any{
		"governance.partnergov.io/partner": "acme", "governance.partnergov.io/decision-type": "TierChange", "team": "emea"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{record.LabelPartner: "acme", record.LabelType: "TierChange", "team": "emea"}
	if len(row.Labels) != len(want) {
		t.Errorf("labels %v, want %v", row.Labels, want)
	}
	for k, v := range want {
		if row.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (history selects records by today's labels); labels %v", k, row.Labels[k], v, row.Labels)
		}
	}
}

func TestASpecFieldTheTypeDoesNotKnowIsAnErrorNamingTheRecord(t *testing.T) {
	u := sourceRecord(OldRecordsGroup, "acme-tier-1", nil)
	u.Object["spec"].(map[string]any)["approver"] = "someone"
	_, err := RecordForDatabase(u)
	if err == nil || !strings.Contains(err.Error(), "decision record partners/acme-tier-1") || !strings.Contains(err.Error(), "approver") {
		t.Errorf("a spec with a field DecisionRecord lacks: %v, want an error naming the record and the field", err)
	}
}

func TestARecordRetainedNoLongerThanItsTimeIsNamed(t *testing.T) {
	u := sourceRecord(RecordsGroup, "acme-tier-1", nil)
	u.Object["spec"].(map[string]any)["retainUntil"] = "2026-03-05T10:00:00Z"
	_, err := RecordForDatabase(u)
	if err == nil || !strings.Contains(err.Error(), "decision record partners/acme-tier-1: spec.retainUntil") {
		t.Errorf("a record retained until its own time: %v, want an error naming the record and spec.retainUntil", err)
	}
}

func TestAnExpiredContinueTokenGoesOnWithTheTokenTheErrorCarries(t *testing.T) {
	page := func(names ...string) *unstructured.UnstructuredList {
		l := &unstructured.UnstructuredList{}
		for _, n := range names {
			l.Items = append(l.Items, *sourceRecord(RecordsGroup, n, nil))
		}
		return l
	}
	var asked []string
	list := func(_ context.Context, limit int64, cont string) (*unstructured.UnstructuredList, error) {
		asked = append(asked, cont)
		switch cont {
		case "":
			l := page("a", "b")
			l.SetContinue("first")
			return l, nil
		case "first": // etcd was compacted meanwhile
			expired := apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result.")
			expired.ErrStatus.ListMeta.Continue = "inconsistent"
			return nil, expired
		case "inconsistent":
			return page("c"), nil
		}
		t.Fatalf("listed with continue %q", cont)
		return nil, nil
	}
	var seen []string
	var out bytes.Buffer
	err := eachPage(context.Background(), list, MigrateOptions{PageSize: 2, Out: &out}.defaults(), func(items []unstructured.Unstructured) error {
		for _, u := range items {
			seen = append(seen, u.GetName())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("paging past an expired continue token: %v", err)
	}
	if strings.Join(seen, ",") != "a,b,c" || strings.Join(asked, ",") != ",first,inconsistent" {
		t.Errorf("listed %v with continue tokens %q, want a,b,c with \"\", first, inconsistent", seen, asked)
	}
	if !strings.Contains(out.String(), "continue token expired") {
		t.Errorf("the output does not say the list went on past an expired token:\n%s", out.String())
	}
	// A first page that fails is an error, whatever its reason.
	failing := func(context.Context, int64, string) (*unstructured.UnstructuredList, error) {
		return nil, apierrors.NewResourceExpired("gone")
	}
	if err := eachPage(context.Background(), failing, MigrateOptions{}.defaults(), func([]unstructured.Unstructured) error { return nil }); err == nil {
		t.Error("a first page answered 410 is no error")
	}
}

func TestMigrateNeedsOneDSNAndAKnownGroup(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--dsn or --dsn-file is required"},
		{[]string{"--dsn", "postgres://x", "--dsn-file", "f"}, "--dsn and --dsn-file both given"},
		{[]string{"--dsn-file", "/nonexistent/records.dsn"}, "--dsn-file"},
		{[]string{"--dsn", "postgres://x", "--from-group", "example.com"}, `--from-group "example.com"`},
		{[]string{"--dsn", "postgres://x", "--chunk-size", "0"}, "--chunk-size must be 1 or more"},
	} {
		var out bytes.Buffer
		err := Run(context.Background(), genericiooptions.IOStreams{Out: &out, ErrOut: &out}, append([]string{"records", "migrate"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("records migrate %v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestAnErrorNamesAtMostFiftyRecordsAndCountsTheRest(t *testing.T) {
	var p named
	for i := range 120 {
		p.add(fmt.Sprintf("partners/r-%03d", i))
	}
	got := p.join(", ")
	if p.n != 120 || !strings.HasPrefix(got, "partners/r-000, ") || !strings.Contains(got, "partners/r-049, and 70 more") || strings.Contains(got, "r-050") {
		t.Errorf("120 problems joined as %q (counted %d), want the first 50 and \"and 70 more\"", got, p.n)
	}
}

// memDatabase is a records database in memory.
type memDatabase map[pgstore.Key]*pgstore.Record

func (m memDatabase) Create(_ context.Context, r *pgstore.Record) (*pgstore.Record, error) {
	k := pgstore.Key{Namespace: r.Namespace, Name: r.Name}
	if m[k] != nil {
		return nil, pgstore.ErrAlreadyExists
	}
	m[k] = r
	return r, nil
}

func (m memDatabase) GetMany(_ context.Context, keys []pgstore.Key) (map[pgstore.Key]*pgstore.Record, error) {
	out := map[pgstore.Key]*pgstore.Record{}
	for _, k := range keys {
		if r := m[k]; r != nil {
			out[k] = r
		}
	}
	return out, nil
}

func (m memDatabase) CountByNamespace(_ context.Context, t time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	for k, r := range m {
		if r.RetainUntil.After(t) {
			out[k.Namespace]++
		}
	}
	return out, nil
}

// The old group lost partnergov's webhook when the release that moved records
// to their own group was installed: from then anyone RBAC lets write
// decisionrecords.governance.partnergov.io (a namespace owner with a wildcard
// role, say) can add records there, unchained like every record made before
// chaining, which history --verify lists as such. migrate --from-group must
// not carry them into PostgreSQL, where they would look like the manager's.
func TestARecordOfTheOldGroupMadeAfterItLostItsWebhookIsNotCopied(t *testing.T) {
	upgraded := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	real := sourceRecord(OldRecordsGroup, "acme-tier-1", map[string]any{"governance.partnergov.io/partner": "acme"})
	forged := sourceRecord(OldRecordsGroup, "acme-exception-approved", map[string]any{"governance.partnergov.io/partner": "acme"})
	forged.SetCreationTimestamp(metav1.NewTime(upgraded.Add(time.Hour)))
	forged.Object["spec"].(map[string]any)["reason"] = "Approved"
	list := func(context.Context, int64, string) (*unstructured.UnstructuredList, error) {
		return &unstructured.UnstructuredList{Items: []unstructured.Unstructured{*real.DeepCopy(), *forged.DeepCopy()}}, nil
	}
	db := memDatabase{}
	res, err := MigrateRecords(context.Background(), list, db, MigrateOptions{CreatedBefore: upgraded})
	if db[pgstore.Key{Namespace: "partners", Name: "acme-exception-approved"}] != nil {
		t.Fatal("a record created in the old group after the upgrade was copied into the records database")
	}
	if db[pgstore.Key{Namespace: "partners", Name: "acme-tier-1"}] == nil || res.Copied != 1 {
		t.Errorf("the record made before the upgrade was not copied (copied %d)", res.Copied)
	}
	if err == nil || !strings.Contains(err.Error(), "partners/acme-exception-approved was created at 2026-04-01T10:00:00Z, after its group stopped being guarded") {
		t.Errorf("the refusal does not name the record and why: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "not in the records database") {
		t.Errorf("the check names the refused record as missing too: %v", err)
	}
}

func TestTheOldGroupWasGuardedUntilTheFirstCRDOfTheUpgrade(t *testing.T) {
	crd := func(name string, created time.Time) runtime.Object {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apiextensions.k8s.io/v1")
		u.SetKind("CustomResourceDefinition")
		u.SetName(name)
		u.SetCreationTimestamp(metav1.NewTime(created))
		return u
	}
	first, later := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	scheme := runtime.NewScheme()
	kinds := map[schema.GroupVersionResource]string{crds: "CustomResourceDefinitionList"}
	ctx := context.Background()

	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, kinds,
		crd("recordchains.governance.partnergov.io", later), crd("decisionrecords.records.partnergov.io", first))
	if got, err := oldGroupGuardedUntil(ctx, dyn, ""); err != nil || !got.Equal(first) {
		t.Errorf("guarded until %v (%v), want %v: the older of the upgrade's CRDs", got, err, first)
	}
	only := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, kinds, crd("recordchains.governance.partnergov.io", later))
	if got, err := oldGroupGuardedUntil(ctx, only, ""); err != nil || !got.Equal(later) {
		t.Errorf("with the RecordChain CRD only (postgres store): guarded until %v (%v), want %v", got, err, later)
	}
	none := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, kinds)
	if _, err := oldGroupGuardedUntil(ctx, none, ""); err == nil || !strings.Contains(err.Error(), "--old-group-guarded-until") {
		t.Errorf("with neither CRD: %v, want an error naming --old-group-guarded-until", err)
	}
	if got, err := oldGroupGuardedUntil(ctx, none, "2026-04-02T00:00:00Z"); err != nil || !got.Equal(first.Add(15*time.Hour)) {
		t.Errorf("--old-group-guarded-until: %v (%v)", got, err)
	}
	if _, err := oldGroupGuardedUntil(ctx, none, "yesterday"); err == nil || !strings.Contains(err.Error(), "--old-group-guarded-until") {
		t.Errorf("a flag that is no time: %v", err)
	}
}

package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/partnergov/partnergov/test/postgres"
)

// server is the PostgreSQL every test of the package shares; each test has a
// database of its own.
var server *postgres.Server

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := postgres.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "the records store's tests need PostgreSQL: %v\n", err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

var dbCount atomic.Int64

// newDatabase creates an empty database for the test and returns its name and DSN.
func newDatabase(t *testing.T) (string, string) {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", dbCount.Add(1), strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name())))
	if len(name) > 60 {
		name = name[:60]
	}
	dsn, err := server.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return name, dsn
}

// newStore opens a migrated store on a database of the test's own.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	db, dsn := newDatabase(t)
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, db
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

// rec is a record of partner's decision of type typ at t, retained for retention.
func rec(ns, name, partner, typ string, t time.Time, retention time.Duration) *Record {
	return recWith(ns, name, partner, typ, t, retention, nil)
}

// recWith is rec with spec.chain (nil: none); its object says what its columns say.
func recWith(ns, name, partner, typ string, t time.Time, retention time.Duration, chain map[string]any) *Record {
	t = t.Truncate(time.Second)
	labels := map[string]string{"partner": partner, "type": typ}
	spec := map[string]any{"partner": partner, "type": typ, "subject": map[string]any{"kind": "Partner", "name": partner},
		"time": t.UTC().Format(time.RFC3339), "retainUntil": t.Add(retention).UTC().Format(time.RFC3339)}
	if chain != nil {
		spec["chain"] = chain
	}
	obj, _ := json.Marshal(map[string]any{
		"apiVersion": "records.partnergov.io/v1alpha1", "kind": "DecisionRecord",
		"metadata": map[string]any{"namespace": ns, "name": name, "labels": labels},
		"spec":     spec,
	})
	return &Record{
		Namespace: ns, Name: name, UID: "uid-" + name, Partner: partner, Type: typ,
		SubjectKind: "Partner", SubjectName: partner, Time: t, RetainUntil: t.Add(retention),
		Labels: labels, Object: obj,
	}
}

const year = 365 * 24 * time.Hour

func mustCreate(t *testing.T, s *Store, r *Record) *Record {
	t.Helper()
	out, err := s.Create(context.Background(), r)
	if err != nil {
		t.Fatalf("creating %s/%s: %v", r.Namespace, r.Name, err)
	}
	return out
}

func TestMigrateIsIdempotentAndSafeWhenServersStartTogether(t *testing.T) {
	_, dsn := newDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			errs[i] = s.Migrate(ctx)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating a migrated schema again: %v", err)
	}
	var n, v int
	if err := s.pool.QueryRow(ctx, `SELECT count(*), max(version) FROM decision_records_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) || v != len(migrations) {
		t.Errorf("%d migrations recorded up to version %d, want each of %d once", n, v, len(migrations))
	}
}

func TestCreateKeepsTheRecordAsGiven(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	in := rec("partners", "acme-tier-1", "acme", "TierChange", date(2026, 3, 5), 7*year)
	created := mustCreate(t, s, in)
	if created.ID <= 0 || created.CreatedAt.IsZero() {
		t.Errorf("Create assigned ID %d, CreatedAt %v", created.ID, created.CreatedAt)
	}
	got, err := s.Get(ctx, "partners", "acme-tier-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.UID != in.UID || got.Partner != "acme" || got.Type != "TierChange" ||
		!got.Time.Equal(in.Time) || !got.RetainUntil.Equal(in.RetainUntil) || got.Labels["partner"] != "acme" {
		t.Errorf("Get = %+v, want what was created %+v", got, created)
	}
	var a, b any
	_ = json.Unmarshal(in.Object, &a)
	_ = json.Unmarshal(got.Object, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("object %s, want %s", got.Object, in.Object)
	}
	if _, err := s.Get(ctx, "partners", "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing record: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "elsewhere", "acme-tier-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get in another namespace: %v, want ErrNotFound", err)
	}
}

func TestNamesAreUniqueAcrossPartitions(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, rec("partners", "acme-d1", "acme", "TierChange", date(2026, 1, 10), 7*year))
	// The same name with a time in another month lands in another partition.
	_, err := s.Create(ctx, rec("partners", "acme-d1", "acme", "TierChange", date(2026, 6, 10), 7*year))
	var exists *AlreadyExistsError
	if !errors.As(err, &exists) || !errors.Is(err, ErrAlreadyExists) || exists.Name != "acme-d1" {
		t.Fatalf("creating a taken name in another month: %v, want AlreadyExistsError", err)
	}
	// The name is free in another namespace.
	mustCreate(t, s, rec("others", "acme-d1", "acme", "TierChange", date(2026, 6, 10), 7*year))

	// Writers racing on one decision: exactly one creates it, the rest find it recorded.
	var wg sync.WaitGroup
	var created, already atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			_, err := s.Create(ctx, rec("partners", "raced", "acme", "DealTransition", date(2026, time.Month(1+i), 1), 7*year))
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, ErrAlreadyExists):
				already.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 || already.Load() != 7 {
		t.Errorf("8 racing creates of one name: %d created, %d already there; want 1 and 7", created.Load(), already.Load())
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM decision_records WHERE name = 'raced'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d rows named raced, want 1", n)
	}
}

func TestPagingListsEveryRecordOnceWhileInsertsHappen(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	initial := map[string]bool{}
	for i := range 120 {
		// Six months, and several records at the same instant (ordered by ID).
		at := date(2026, time.Month(1+i%6), 1+i%3)
		r := rec("partners", fmt.Sprintf("r%03d", i), fmt.Sprintf("p%d", i%4), "DealTransition", at, 7*year)
		mustCreate(t, s, r)
		initial[r.Name] = true
	}
	stop := make(chan struct{})
	inserted := make(chan int, 1)
	go func() {
		n := 0
		defer func() { inserted <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Before, among and after the pages already read.
			at := date(2025+n%3, time.Month(1+n%12), 1+n%28)
			if _, err := s.Create(ctx, rec("partners", fmt.Sprintf("new%03d", n), "p0", "DealTransition", at, 7*year)); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	seen := map[string]int{}
	cont, pages := "", 0
	for {
		page, err := s.List(ctx, ListOptions{Namespace: "partners", Limit: 7, Continue: cont})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Records) > 7 {
			t.Fatalf("a page of limit 7 held %d records", len(page.Records))
		}
		for _, r := range page.Records {
			seen[r.Name]++
		}
		if cont = page.Continue; cont == "" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	n := <-inserted
	if n == 0 {
		t.Fatal("no record was inserted while paging: the test proves nothing")
	}
	for name := range initial {
		if seen[name] != 1 {
			t.Errorf("record %s listed %d times, want once", name, seen[name])
		}
	}
	for name, c := range seen {
		if c != 1 {
			t.Errorf("record %s listed %d times", name, c)
		}
	}
	t.Logf("%d pages, %d records listed, %d inserted while paging", pages, len(seen), n)
}

func TestListSelectsByLabelsAndFields(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for _, r := range []*Record{
		rec("a", "acme-1", "acme", "TierChange", date(2026, 1, 1), year),
		rec("a", "acme-2", "acme", "DealTransition", date(2026, 2, 1), year),
		rec("a", "globex-1", "globex", "DealTransition", date(2026, 3, 1), year),
		rec("b", "acme-1", "acme", "RequestOutcome", date(2026, 4, 1), year),
	} {
		if r.Name == "acme-2" {
			r.Labels["rank"] = "7"
		}
		if r.Name == "globex-1" {
			r.Labels["rank"] = "12"
		}
		mustCreate(t, s, relabel(r, r.Labels))
	}
	for _, tc := range []struct {
		name      string
		namespace string
		labels    string
		fields    string
		want      []string
	}{
		{name: "all namespaces", want: []string{"a/acme-1", "a/acme-2", "a/globex-1", "b/acme-1"}},
		{name: "one namespace", namespace: "a", want: []string{"a/acme-1", "a/acme-2", "a/globex-1"}},
		{name: "label equals", labels: "partner=acme", want: []string{"a/acme-1", "a/acme-2", "b/acme-1"}},
		{name: "label in", namespace: "a", labels: "type in (TierChange,RequestOutcome)", want: []string{"a/acme-1"}},
		{name: "label not equal includes unlabelled", labels: "rank!=7", want: []string{"a/acme-1", "a/globex-1", "b/acme-1"}},
		{name: "label exists", labels: "rank", want: []string{"a/acme-2", "a/globex-1"}},
		{name: "label does not exist", labels: "!rank", want: []string{"a/acme-1", "b/acme-1"}},
		{name: "label greater than", labels: "rank>8", want: []string{"a/globex-1"}},
		{name: "label less than", labels: "rank<8", want: []string{"a/acme-2"}},
		{name: "two labels", labels: "partner=acme,type=DealTransition", want: []string{"a/acme-2"}},
		{name: "field spec.partner", fields: "spec.partner=globex", want: []string{"a/globex-1"}},
		{name: "field spec.type", namespace: "a", fields: "spec.type=DealTransition", want: []string{"a/acme-2", "a/globex-1"}},
		{name: "field not equal", fields: "spec.partner!=acme", want: []string{"a/globex-1"}},
		{name: "field metadata.name", fields: "metadata.name=acme-1", want: []string{"a/acme-1", "b/acme-1"}},
		{name: "field metadata.namespace", fields: "metadata.namespace=b", want: []string{"b/acme-1"}},
		{name: "fields and labels", labels: "partner=acme", fields: "spec.type=TierChange", want: []string{"a/acme-1"}},
		{name: "nothing matches", fields: "spec.partner=initech", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := ListOptions{Namespace: tc.namespace}
			if tc.labels != "" {
				sel, err := labels.Parse(tc.labels)
				if err != nil {
					t.Fatal(err)
				}
				opts.Labels = sel
			}
			if tc.fields != "" {
				sel, err := fields.ParseSelector(tc.fields)
				if err != nil {
					t.Fatal(err)
				}
				opts.Fields = sel
			}
			list, err := s.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range list.Records {
				got = append(got, r.Namespace+"/"+r.Name)
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListRefusesWhatItCannotServe(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, rec("a", "acme-1", "acme", "TierChange", date(2026, 1, 1), year))
	for _, tc := range []struct {
		name string
		opts ListOptions
		want string
	}{
		{"unknown field", ListOptions{Fields: fields.OneTermEqualSelector("spec.actor", "x")}, "spec.partner and spec.type only"},
		{"forged continue token", ListOptions{Continue: "bm90LWEtdG9rZW4"}, "not one this server gave out"},
		{"negative limit", ListOptions{Limit: -1}, "limit must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.List(ctx, tc.opts)
			var inv *InvalidError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("List: %v, want an InvalidError saying %q", err, tc.want)
			}
		})
	}
}

func TestTheDatabaseRefusesChangingARecord(t *testing.T) {
	s, db := newStore(t)
	mustCreate(t, s, rec("partners", "kept", "acme", "TierChange", time.Now().Add(-time.Hour), 7*year))
	ctx := context.Background()
	for _, sql := range []string{
		`UPDATE decision_records SET partner = 'someone-else' WHERE name = 'kept'`,
		`UPDATE decision_records SET retain_until = now() - interval '1 day' WHERE name = 'kept'`,
		`UPDATE decision_record_names SET retain_until = now() - interval '1 day' WHERE name = 'kept'`,
	} {
		_, err := server.Psql(ctx, db, sql)
		if err == nil || !strings.Contains(err.Error(), "decision record partners/kept cannot be changed: decision records are append-only") {
			t.Errorf("%s: %v, want the append-only refusal", sql, err)
		}
	}
	if out, _ := server.Psql(ctx, db, `SELECT partner FROM decision_records WHERE name = 'kept'`); out != "acme" {
		t.Errorf("partner is %q after the refused update, want acme", out)
	}
}

func TestTheDatabaseRefusesDeletingARecordBeforeItsRetention(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, rec("partners", "kept", "acme", "TierChange", date(2026, 1, 2), 100*year))
	mustCreate(t, s, rec("partners", "expired", "acme", "TierChange", date(2020, 1, 2), 24*time.Hour))
	for _, sql := range []string{
		`DELETE FROM decision_records WHERE name = 'kept'`,
		`DELETE FROM decision_record_names WHERE name = 'kept'`,
	} {
		_, err := server.Psql(ctx, db, sql)
		if err == nil || !strings.Contains(err.Error(), "decision record partners/kept is retained until 2125-12-09T12:00:00Z and cannot be deleted before then") {
			t.Errorf("%s: %v, want the retention refusal", sql, err)
		}
	}
	for _, sql := range []string{`TRUNCATE decision_records`, `TRUNCATE decision_record_names`} {
		if _, err := server.Psql(ctx, db, sql); err == nil || !strings.Contains(err.Error(), "decision records are never truncated") {
			t.Errorf("%s: %v, want the truncate refusal", sql, err)
		}
	}
	// Past its retention, a record may go.
	if _, err := server.Psql(ctx, db, `DELETE FROM decision_records WHERE name = 'expired'`); err != nil {
		t.Errorf("deleting a record past its retention: %v", err)
	}
	if out, _ := server.Psql(ctx, db, `SELECT count(*) FROM decision_records WHERE name = 'kept'`); out != "1" {
		t.Errorf("%s records named kept after the refused deletes, want 1", out)
	}
}

func TestPruneDeletesOnlyRecordsPastTheirRetention(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	now := time.Now()
	// Same month: one past its retention, one not (the partition stays).
	mustCreate(t, s, rec("p", "gone", "acme", "TierChange", now.Add(-48*time.Hour), 24*time.Hour))
	mustCreate(t, s, rec("p", "kept", "acme", "TierChange", now.Add(-48*time.Hour), year))
	// A month long over whose records are all past retention: dropped whole.
	mustCreate(t, s, rec("p", "old-1", "acme", "TierChange", date(2019, 5, 3), 24*time.Hour))
	mustCreate(t, s, rec("p", "old-2", "acme", "TierChange", date(2019, 5, 20), 30*24*time.Hour))
	// A month long over with one record still retained: kept, its expired record deleted.
	mustCreate(t, s, rec("p", "old-gone", "acme", "TierChange", date(2019, 8, 3), 24*time.Hour))
	mustCreate(t, s, rec("p", "old-kept", "acme", "TierChange", date(2019, 8, 3), 100*year))

	n, err := s.Prune(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("Prune deleted %d records, want 4", n)
	}
	list, err := s.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range list.Records {
		left = append(left, r.Name)
	}
	if strings.Join(left, " ") != "old-kept kept" {
		t.Errorf("after pruning %v are left, want old-kept kept", left)
	}
	if out, _ := server.Psql(ctx, db, `SELECT to_regclass('decision_records_2019m05') IS NULL, to_regclass('decision_records_2019m08') IS NULL`); out != "t|f" {
		t.Errorf("partitions 2019-05 and 2019-08 dropped: %s, want t|f (the first all expired, the second not)", out)
	}
	// A month that has not ended keeps its partition even when empty: records may still come.
	next := monthOf(now).AddDate(0, 1, 0).Format("decision_records_2006m01")
	if out, _ := server.Psql(ctx, db, `SELECT to_regclass('`+next+`') IS NOT NULL`); out != "t" {
		t.Errorf("the empty partition %s of a month to come was dropped", next)
	}
	if out, _ := server.Psql(ctx, db, `SELECT string_agg(name, ' ' ORDER BY name) FROM decision_record_names`); out != "kept old-kept" {
		t.Errorf("names left %q, want the kept records' only", out)
	}
	// A pruned record's name is free again, also in a dropped month.
	mustCreate(t, s, rec("p", "old-1", "acme", "TierChange", date(2019, 5, 3), 100*year))
	// Pruning at a time later than the database's clock deletes nothing still retained by it.
	if _, err := s.Prune(ctx, now.Add(200*year)); err != nil {
		t.Fatalf("pruning with a clock ahead of the database's: %v", err)
	}
	if l, _ := s.List(ctx, ListOptions{}); len(l.Records) != 3 {
		t.Errorf("a clock ahead of the database's pruned records the database still retains: %d left, want 3", len(l.Records))
	}
}

// The records role appends only through decision_records_append: with INSERT
// on the tables, whoever holds its DSN could take a future decision's name
// alone (the manager's create of it then finds the name taken, and the
// decision is never recorded) or write rows past --creator-username.
func TestTheRecordsRoleMayOnlyReadAndAppend(t *testing.T) {
	owner, db := newStore(t)
	ctx := context.Background()
	mustCreate(t, owner, rec("p", "before", "acme", "TierChange", date(2026, 1, 1), year))
	// A role granted by an older GrantSQL (INSERT on both tables, the
	// sequence's USAGE) loses them when GrantSQL runs again.
	if _, err := server.Psql(ctx, db, `DO $$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'records_app') THEN CREATE ROLE records_app LOGIN; END IF;
	END $$;
	GRANT SELECT, INSERT ON decision_records, decision_record_names TO records_app;
	GRANT USAGE, SELECT ON SEQUENCE decision_records_id_seq TO records_app;
	`+GrantSQL("public", "records_app")); err != nil {
		t.Fatal(err)
	}
	app, err := Open(ctx, strings.Replace(server.DSN(db), "partnergov@", "records_app@", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	// Appending, in a month with no partition yet, reading, listing and pruning work.
	mustCreate(t, app, rec("p", "appended", "acme", "TierChange", date(2031, 7, 1), year))
	mustCreate(t, app, rec("p", "expired", "acme", "TierChange", date(2020, 7, 1), time.Hour))
	if _, err := app.Get(ctx, "p", "before"); err != nil {
		t.Fatal(err)
	}
	if l, err := app.List(ctx, ListOptions{Limit: 1}); err != nil || len(l.Records) != 1 || l.Continue == "" {
		t.Fatalf("listing as the records role: %v", err)
	}
	if n, err := app.Prune(ctx, time.Now()); err != nil || n != 1 {
		t.Fatalf("pruning as the records role: %d pruned, %v; want 1", n, err)
	}
	// The owner's functions drop only ended partitions whose records are all past retention.
	for _, part := range []string{"decision_record_names", "decision_records_migrations", "decision_records_2026m01", "decision_records_2031m07", "no_such_table"} {
		var n int64
		if err := app.pool.QueryRow(ctx, `SELECT decision_records_drop_partition($1, now() + interval '500 years')`, part).Scan(&n); err != nil || n != 0 {
			t.Errorf("the records role dropping %s: %d records, %v; want nothing dropped", part, n, err)
		}
	}
	var left int
	if err := owner.pool.QueryRow(ctx, `SELECT count(*) FROM decision_records`).Scan(&left); err != nil || left != 2 {
		t.Errorf("%d records left after the records role's drop attempts (%v), want 2", left, err)
	}
	// Anything else is refused by privilege, before any trigger.
	for _, sql := range []string{
		`UPDATE decision_records SET partner = 'x'`,
		`DELETE FROM decision_records`,
		`DELETE FROM decision_record_names`,
		`TRUNCATE decision_records_2026m01`,
		`DROP TABLE decision_records_2026m01`,
		`CREATE TABLE sneaky (id int)`,
		`ALTER TABLE decision_records DISABLE TRIGGER append_only`,
		`INSERT INTO decision_records_migrations (version) VALUES (99)`,
		// A name alone, taken for a decision not yet recorded.
		`INSERT INTO decision_record_names (namespace, name, time, id, retain_until)
			VALUES ('p', 'future', now(), 999, now() + interval '1 year')`,
		`INSERT INTO decision_records (id, namespace, name, uid, partner, type, subject_kind, subject_name, time, retain_until, object)
			VALUES (999, 'p', 'future', 'u', 'acme', 'TierChange', 'Partner', 'acme', '2026-01-02', '2027-01-02', '{}')`,
		`INSERT INTO decision_records_2026m01 (id, namespace, name, uid, partner, type, subject_kind, subject_name, time, retain_until, object)
			VALUES (999, 'p', 'future', 'u', 'acme', 'TierChange', 'Partner', 'acme', '2026-01-02', '2027-01-02', '{}')`,
		`SELECT nextval('decision_records_id_seq')`,
	} {
		_, err := app.pool.Exec(ctx, sql)
		if err == nil || !(strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "must be owner")) {
			t.Errorf("the records role ran %q: %v", sql, err)
		}
	}
	if _, err := app.Get(ctx, "p", "future"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the records role's direct inserts left a record or name: %v", err)
	}
	// Appending through the function keeps names unique and rows consistent,
	// and writes a name only with its record.
	if _, err := app.Create(ctx, rec("p", "before", "acme", "TierChange", date(2026, 2, 1), year)); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("the records role appended a second record named p/before: %v", err)
	}
	bad := rec("p", "inconsistent", "acme", "TierChange", date(2026, 1, 5), year)
	bad.Partner = "globex"
	if _, err := app.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), "do not say what its object says") {
		t.Errorf("the records role appended a row whose columns are not its object's: %v", err)
	}
	var names int
	if err := owner.pool.QueryRow(ctx, `SELECT count(*) FROM decision_record_names WHERE name IN ('inconsistent', 'future')`).Scan(&names); err != nil || names != 0 {
		t.Errorf("%d names taken without their records (%v), want 0", names, err)
	}
	if err := app.Migrate(ctx); err != nil {
		t.Errorf("migrating an up-to-date schema as the records role: %v", err)
	}
}

func TestPruningWhileMonthsAreCreatedNeitherFailsNorBlocks(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	// Ended months, retained (the pruner looks at them each time) and expired (it drops them).
	for m := range 12 {
		mustCreate(t, s, rec("p", fmt.Sprintf("kept-%d", m), "acme", "TierChange", date(2024, time.Month(1+m), 3), 100*year))
		mustCreate(t, s, rec("p", fmt.Sprintf("gone-%d", m), "acme", "TierChange", date(2022, time.Month(1+m), 3), 24*time.Hour))
	}
	stop := make(chan struct{})
	pruned := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				pruned <- nil
				return
			default:
			}
			if _, err := s.Prune(ctx, time.Now()); err != nil {
				pruned <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for m := range 24 {
				r := rec("p", fmt.Sprintf("new-%d-%d", w, m), "acme", "DealTransition", date(2030+m/12, time.Month(1+m%12), 1+w), year)
				if _, err := s.Create(ctx, r); err != nil {
					t.Errorf("creating %s while pruning: %v", r.Name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-pruned; err != nil {
		t.Errorf("pruning while months are created: %v", err)
	}
	list, err := s.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Records) != 12+4*24 {
		t.Errorf("%d records left, want the 12 retained and the 96 created", len(list.Records))
	}
}

// chained is a record of partner labelled as history lists it, at sequence seq.
func chained(ns, name, partner string, seq int64, t time.Time, retention time.Duration) *Record {
	r := recWith(ns, name, partner, "DealTransition", t, retention, map[string]any{"sequence": seq})
	return relabel(r, map[string]string{"records.partnergov.io/partner": partner})
}

// relabel gives r (row and object) the labels given.
func relabel(r *Record, labels map[string]string) *Record {
	var obj map[string]any
	_ = json.Unmarshal(r.Object, &obj)
	obj["metadata"].(map[string]any)["labels"] = labels
	r.Object, _ = json.Marshal(obj)
	r.Labels = labels
	return r
}

// After recordRetention is lowered a newer record passes its retention before
// an older one of the same partner; pruning it would leave a hole in the middle
// of the partner's chain, which `history --verify` names as a deletion.
func TestEachPartnersChainIsPrunedOldestFirst(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now()
	// acme: sequence 1 (2019-03) kept 100 years, sequence 2 (2019-06) one day:
	// 2 waits for 1, and its ended month is not dropped either.
	mustCreate(t, s, chained("p", "acme-1", "acme", 1, date(2019, 3, 1), 100*year))
	mustCreate(t, s, chained("p", "acme-2", "acme", 2, date(2019, 6, 1), 24*time.Hour))
	// globex: sequences 1 and 2 both past retention, 3 retained: 1 and 2 go.
	mustCreate(t, s, chained("p", "globex-1", "globex", 1, date(2019, 3, 2), 24*time.Hour))
	mustCreate(t, s, chained("p", "globex-2", "globex", 2, date(2019, 3, 3), 24*time.Hour))
	mustCreate(t, s, chained("p", "globex-3", "globex", 3, date(2019, 3, 4), 100*year))
	// Another namespace's acme does not hold this acme's records back.
	mustCreate(t, s, chained("q", "acme-1", "acme", 1, date(2019, 9, 1), 24*time.Hour))
	if _, err := s.Prune(ctx, now); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range list.Records {
		left = append(left, r.Namespace+"/"+r.Name)
	}
	slices.Sort(left)
	if got := strings.Join(left, " "); got != "p/acme-1 p/acme-2 p/globex-3" {
		t.Errorf("after pruning %s are left, want p/acme-1 p/acme-2 p/globex-3 (acme-2 waits for acme-1)", got)
	}
}

func TestGetManyReturnsTheRecordsThatExistAcrossMonths(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, rec("partners", "acme-tier-1", "acme", "TierChange", date(2025, 1, 5), 7*year))
	mustCreate(t, s, rec("partners", "acme-tier-2", "acme", "TierChange", date(2026, 3, 5), 7*year))
	mustCreate(t, s, rec("other", "acme-tier-1", "acme", "TierChange", date(2026, 3, 6), 7*year))
	got, err := s.GetMany(ctx, []Key{{"partners", "acme-tier-1"}, {"partners", "acme-tier-2"}, {"partners", "missing"}, {"elsewhere", "acme-tier-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[Key{"partners", "acme-tier-1"}] == nil || got[Key{"partners", "acme-tier-2"}] == nil {
		t.Fatalf("GetMany = %v, want partners/acme-tier-1 and partners/acme-tier-2 only", got)
	}
	if r := got[Key{"partners", "acme-tier-2"}]; !r.Time.Equal(date(2026, 3, 5)) || r.UID != "uid-acme-tier-2" {
		t.Errorf("GetMany's partners/acme-tier-2 = %+v", r)
	}
	if none, err := s.GetMany(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("GetMany of no keys = %v, %v", none, err)
	}
}

func TestCountByNamespaceCountsOnlyRetainedRecords(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := date(2026, 6, 1)
	mustCreate(t, s, rec("partners", "a", "acme", "TierChange", date(2026, 1, 5), 7*year))
	mustCreate(t, s, rec("partners", "b", "acme", "TierChange", date(2026, 2, 5), 7*year))
	mustCreate(t, s, rec("partners", "expired", "acme", "TierChange", date(2026, 1, 5), 24*time.Hour))
	mustCreate(t, s, rec("other", "c", "acme", "TierChange", date(2026, 3, 5), 7*year))
	mustCreate(t, s, rec("gone", "expired", "acme", "TierChange", date(2026, 1, 5), 24*time.Hour))
	got, err := s.CountByNamespace(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"partners": 2, "other": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CountByNamespace = %v, want %v (records past their retention left out)", got, want)
	}
}

// A row written past the records server whose columns and object disagree
// could hide from history (which reads objects) while acting through its
// columns: the attacker's row filed under partner P, unlabelled, retained for
// ever, held every record of P back from pruning.
func TestARowSaysWhatItsObjectSays(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	at := date(2026, 3, 1)
	for name, edit := range map[string]func(r *Record){
		"another partner's column": func(r *Record) { r.Partner = "globex" },
		"another name":             func(r *Record) { r.Name = "other" },
		"labels not the object's":  func(r *Record) { r.Labels = map[string]string{} },
		"a later retention":        func(r *Record) { r.RetainUntil = r.RetainUntil.Add(100 * year) },
		"another time":             func(r *Record) { r.Time = r.Time.Add(time.Hour) },
		"another type":             func(r *Record) { r.Type = "TierChange" },
		"another subject":          func(r *Record) { r.SubjectName = "initech" },
	} {
		t.Run(name, func(t *testing.T) {
			r := rec("p", "row-"+strings.ReplaceAll(name, " ", "-"), "acme", "DealTransition", at, year)
			edit(r)
			if _, err := s.Create(ctx, r); err == nil || !strings.Contains(err.Error(), "do not say what its object says") {
				t.Errorf("a row whose %s was stored: %v", name, err)
			}
		})
	}
	mustCreate(t, s, rec("p", "consistent", "acme", "DealTransition", at, year))
}

// A chained row that history does not list (no partner label) holds nothing back.
func TestOnlyRowsHistoryListsHoldAChainsPruningBack(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now()
	hidden := relabel(recWith("p", "hidden", "acme", "DealTransition", date(2019, 1, 1), 100*year, map[string]any{"sequence": 1}), map[string]string{})
	mustCreate(t, s, hidden)
	mustCreate(t, s, chained("p", "acme-2", "acme", 2, date(2019, 6, 1), 24*time.Hour))
	if _, err := s.Prune(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "p", "acme-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a row history does not list held acme-2 back from pruning: %v", err)
	}
}

package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/records/pgstore"
)

// The API groups DecisionRecords are read from by `records migrate`.
const (
	// RecordsGroup is the records' group today, served by their CRD (the
	// store `crd`) until the records server takes it over.
	RecordsGroup = "records.partnergov.io"
	// OldRecordsGroup is where records lived before they had a group of their
	// own: installs that upgraded from then still have that CRD and its records.
	OldRecordsGroup = "governance.partnergov.io"
)

// oldLabels are the labels records of OldRecordsGroup carry, and what they are today.
var oldLabels = map[string]string{
	OldRecordsGroup + "/partner":       record.LabelPartner,
	OldRecordsGroup + "/decision-type": record.LabelType,
}

// MigratePageSize is how many records `records migrate` reads at a time.
const MigratePageSize = 500

// RecordPager lists one page of the source store's DecisionRecords, in every
// namespace: at most limit, from the continue token cont ("" for the first).
type RecordPager func(ctx context.Context, limit int64, cont string) (*unstructured.UnstructuredList, error)

// RecordDatabase is what migrating needs of the records database (a *pgstore.Store).
type RecordDatabase interface {
	Create(ctx context.Context, r *pgstore.Record) (*pgstore.Record, error)
	GetMany(ctx context.Context, keys []pgstore.Key) (map[pgstore.Key]*pgstore.Record, error)
	CountByNamespace(ctx context.Context, t time.Time) (map[string]int64, error)
}

// MigrateOptions adjust MigrateRecords.
type MigrateOptions struct {
	// PageSize is how many records a page holds (MigratePageSize when 0).
	PageSize int64
	// Out receives the progress and the checks' results; nil discards them.
	Out io.Writer
	// Now is the clock the count of retained records is taken at (time.Now when nil).
	Now func() time.Time
	// CreatedBefore, when set, is when the source stopped being guarded: a
	// record the source created at or after it is not copied but named (and
	// left out of the checks). The old group's records were guarded by the
	// old release's webhook (only the controller created them); once an
	// upgrade replaced that webhook, anyone RBAC lets write the old CRD could
	// add records there, which nothing tells from real ones made before
	// chaining (history --verify lists unchained records as such).
	CreatedBefore time.Time
}

// unguarded reports whether u was created after its source stopped being guarded.
func (o MigrateOptions) unguarded(u *unstructured.Unstructured) bool {
	return !o.CreatedBefore.IsZero() && !u.GetCreationTimestamp().Time.Before(o.CreatedBefore)
}

// MigrateResult is what a migration did.
type MigrateResult struct {
	// Read is how many records the source listed; Copied how many were
	// created in the database; Present how many it held already, the same.
	Read, Copied, Present int
	// Counts are the records retained at the check's time, by namespace.
	Counts []NamespaceCount
}

// NamespaceCount is how many records retained at the check's time a
// namespace holds in the source store and in the records database.
type NamespaceCount struct {
	Namespace        string
	Source, Database int64
}

// MigrateRecords copies every DecisionRecord the source lists into the
// records database, a page at a time, then checks the copy (CheckRecords). A
// record the database holds already (same namespace and name) is not copied
// again: it must be the same, or it is an error naming the record. A run that
// is killed midway is resumed by running it again from the start: what it
// copied is found present and skipped.
func MigrateRecords(ctx context.Context, list RecordPager, db RecordDatabase, o MigrateOptions) (*MigrateResult, error) {
	o = o.defaults()
	res := &MigrateResult{}
	var problems named
	fmt.Fprintf(o.Out, "copying DecisionRecords into the records database, %d a page\n", o.PageSize)
	err := eachPage(ctx, list, o, func(items []unstructured.Unstructured) error {
		wants := make([]*pgstore.Record, 0, len(items))
		keys := make([]pgstore.Key, 0, len(items))
		for i := range items {
			if o.unguarded(&items[i]) {
				problems.add(fmt.Sprintf("decision record %s/%s was created at %s, after its group stopped being guarded by partnergov's webhook (%s): "+
					"only a writer past the webhooks made it, so it is not copied (if the old manager made it before it stopped, check it against your records' export and pass a later --old-group-guarded-until)",
					items[i].GetNamespace(), items[i].GetName(), items[i].GetCreationTimestamp().UTC().Format(time.RFC3339), o.CreatedBefore.UTC().Format(time.RFC3339)))
				continue
			}
			want, err := RecordForDatabase(&items[i])
			if err != nil {
				problems.add(err.Error())
				continue
			}
			wants = append(wants, want)
			keys = append(keys, pgstore.Key{Namespace: want.Namespace, Name: want.Name})
		}
		have, err := db.GetMany(ctx, keys)
		if err != nil {
			return fmt.Errorf("looking up a page of records in the records database: %w", err)
		}
		for _, want := range wants {
			key := pgstore.Key{Namespace: want.Namespace, Name: want.Name}
			got := have[key]
			if got == nil {
				_, err := db.Create(ctx, want)
				if err == nil {
					res.Copied++
					continue
				}
				if !errors.Is(err, pgstore.ErrAlreadyExists) {
					return fmt.Errorf("copying decision record %s/%s: %w", want.Namespace, want.Name, err)
				}
				// Copied meanwhile, by another run: compare it as below.
				again, err := db.GetMany(ctx, []pgstore.Key{key})
				if err != nil {
					return fmt.Errorf("looking up decision record %s/%s in the records database: %w", want.Namespace, want.Name, err)
				}
				if got = again[key]; got == nil {
					return fmt.Errorf("decision record %s/%s: the records database says it exists and does not return it", want.Namespace, want.Name)
				}
			}
			if diff := differences(want.Object, got.Object, copiedMetadata); len(diff) > 0 {
				problems.add(fmt.Sprintf("decision record %s/%s differs from its copy in the records database (%s): "+
					"it was copied before and has changed since, or the database got it from elsewhere", want.Namespace, want.Name, strings.Join(diff, ", ")))
				continue
			}
			res.Present++
		}
		res.Read += len(items)
		fmt.Fprintf(o.Out, "  %d read: %d copied, %d already present", res.Read, res.Copied, res.Present)
		if problems.n > 0 {
			fmt.Fprintf(o.Out, ", %d differ or cannot be copied (listed at the end)", problems.n)
		}
		fmt.Fprintln(o.Out)
		return nil
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(o.Out, "copied %d decision records, %d were present already\n", res.Copied, res.Present)
	counts, checkErr := CheckRecords(ctx, list, db, o)
	res.Counts = counts
	if problems.n > 0 {
		return res, errors.Join(fmt.Errorf("%d decision records could not be copied as they are:\n  %s",
			problems.n, problems.join("\n  ")), checkErr)
	}
	return res, checkErr
}

func (o MigrateOptions) defaults() MigrateOptions {
	if o.PageSize <= 0 {
		o.PageSize = MigratePageSize
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// eachPage calls page for every page the source lists. When a continue token
// has expired (the API server compacted etcd meanwhile: 410 Expired), it goes
// on with the token the error carries: the rest is then listed as it is now,
// not as it was at the first page, which migrating allows (records never
// change; one made meanwhile is copied by the next run).
func eachPage(ctx context.Context, list RecordPager, o MigrateOptions, page func([]unstructured.Unstructured) error) error {
	cont := ""
	for {
		l, err := list(ctx, o.PageSize, cont)
		var status apierrors.APIStatus
		if cont != "" && apierrors.IsResourceExpired(err) && errors.As(err, &status) && status.Status().Continue != "" {
			fmt.Fprintln(o.Out, "  the list's continue token expired (etcd was compacted): going on from where it was, with the records as they are now")
			cont = status.Status().Continue
			continue
		}
		if err != nil {
			return fmt.Errorf("listing decision records: %w", err)
		}
		if err := page(l.Items); err != nil {
			return err
		}
		if cont = l.GetContinue(); cont == "" {
			return nil
		}
	}
}

// copiedMetadata are the metadata fields a copy keeps of its source record.
var copiedMetadata = []string{"name", "namespace", "uid", "labels", "annotations", "creationTimestamp"}

// RecordForDatabase is the row the records database keeps for source record
// u, of either group: a records.partnergov.io/v1alpha1 DecisionRecord with
// the source's spec, and of its metadata the name, namespace, uid, labels
// (those of the old group renamed to today's), annotations and creation time;
// no resourceVersion, managedFields, owners or finalizers. A spec field the
// DecisionRecord type does not know is an error naming the record: nothing
// is dropped on the way.
func RecordForDatabase(u *unstructured.Unstructured) (*pgstore.Record, error) {
	name := u.GetNamespace() + "/" + u.GetName()
	spec, ok := u.Object["spec"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decision record %s has no spec", name)
	}
	var rec recordsv1alpha1.DecisionRecord
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(spec, &rec.Spec, true); err != nil {
		return nil, fmt.Errorf("decision record %s: its spec is not one a DecisionRecord of %s holds: %w", name, recordsv1alpha1.GroupVersion, err)
	}
	rec.APIVersion, rec.Kind = recordsv1alpha1.GroupVersion.String(), "DecisionRecord"
	rec.Namespace, rec.Name, rec.UID = u.GetNamespace(), u.GetName(), u.GetUID()
	rec.CreationTimestamp, rec.Annotations, rec.Generation = u.GetCreationTimestamp(), u.GetAnnotations(), 1
	if l := u.GetLabels(); l != nil {
		rec.Labels = make(map[string]string, len(l))
		for k, v := range l {
			if today, old := oldLabels[k]; old {
				k = today
			}
			rec.Labels[k] = v
		}
	}
	if rec.Namespace == "" || rec.Name == "" {
		return nil, fmt.Errorf("decision record %q has no namespace or name", name)
	}
	if !rec.Spec.RetainUntil.After(rec.Spec.Time.Time) {
		return nil, fmt.Errorf("decision record %s: spec.retainUntil %s is not after spec.time %s, which the records database refuses",
			name, rec.Spec.RetainUntil.UTC().Format(time.RFC3339), rec.Spec.Time.UTC().Format(time.RFC3339))
	}
	body, err := json.Marshal(&rec)
	if err != nil {
		return nil, err
	}
	return &pgstore.Record{
		Namespace: rec.Namespace, Name: rec.Name, UID: string(rec.UID),
		Partner: rec.Spec.Partner, Type: string(rec.Spec.Type),
		SubjectKind: rec.Spec.Subject.Kind, SubjectName: rec.Spec.Subject.Name,
		Time: rec.Spec.Time.Time, RetainUntil: rec.Spec.RetainUntil.Time,
		Labels: rec.Labels, Object: body,
	}, nil
}

// differences names the fields in which two stored objects differ: the given
// metadata fields and each field of the spec, both read as a DecisionRecord
// (so that a field left out and the same field empty are the same).
func differences(want, got json.RawMessage, metadata []string) []string {
	a, err := normalized(want)
	if err != nil {
		return []string{"the source cannot be read: " + err.Error()}
	}
	b, err := normalized(got)
	if err != nil {
		return []string{"the copy cannot be read: " + err.Error()}
	}
	var out []string
	for _, f := range metadata {
		if !reflect.DeepEqual(a.Metadata[f], b.Metadata[f]) {
			out = append(out, "metadata."+f)
		}
	}
	keys := slices.Sorted(maps.Keys(a.Spec))
	for k := range b.Spec {
		if _, ok := a.Spec[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if !reflect.DeepEqual(a.Spec[k], b.Spec[k]) {
			out = append(out, "spec."+k)
		}
	}
	return out
}

type genericRecord struct {
	Metadata map[string]any `json:"metadata"`
	Spec     map[string]any `json:"spec"`
}

// normalized reads a stored object as a DecisionRecord and returns its JSON
// as generic maps.
func normalized(obj json.RawMessage) (*genericRecord, error) {
	var rec recordsv1alpha1.DecisionRecord
	if err := json.Unmarshal(obj, &rec); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&rec)
	if err != nil {
		return nil, err
	}
	var out genericRecord
	return &out, json.Unmarshal(b, &out)
}

// CheckRecords lists the source again and checks the records database
// against it: every record's spec is the same in both (a chain the records
// carry in their spec included), and each namespace holds as many records
// retained now in both (records past their retention are left out: the
// manager and the records server prune them). It prints the counts.
func CheckRecords(ctx context.Context, list RecordPager, db RecordDatabase, o MigrateOptions) ([]NamespaceCount, error) {
	o = o.defaults()
	now := o.Now()
	fmt.Fprintln(o.Out, "checking the records database against the source ...")
	source := map[string]int64{}
	var missing, differ named
	err := eachPage(ctx, list, o, func(items []unstructured.Unstructured) error {
		items = slices.DeleteFunc(items, func(u unstructured.Unstructured) bool { return o.unguarded(&u) }) // named by the copy
		keys := make([]pgstore.Key, 0, len(items))
		for i := range items {
			keys = append(keys, pgstore.Key{Namespace: items[i].GetNamespace(), Name: items[i].GetName()})
			retainUntil, _, _ := unstructured.NestedString(items[i].Object, "spec", "retainUntil")
			if t, err := time.Parse(time.RFC3339, retainUntil); err != nil || t.After(now) {
				source[items[i].GetNamespace()]++
			}
		}
		have, err := db.GetMany(ctx, keys)
		if err != nil {
			return fmt.Errorf("looking up a page of records in the records database: %w", err)
		}
		for i := range items {
			key := keys[i]
			got := have[key]
			if got == nil {
				missing.add(key.Namespace + "/" + key.Name)
				continue
			}
			want, err := RecordForDatabase(&items[i])
			if err != nil {
				differ.add(err.Error())
				continue
			}
			if diff := differences(want.Object, got.Object, nil); len(diff) > 0 {
				differ.add(fmt.Sprintf("%s/%s (%s)", key.Namespace, key.Name, strings.Join(diff, ", ")))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	database, err := db.CountByNamespace(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("counting the records database's records: %w", err)
	}
	var counts []NamespaceCount
	for _, ns := range slices.Sorted(maps.Keys(mergeKeys(source, database))) {
		counts = append(counts, NamespaceCount{Namespace: ns, Source: source[ns], Database: database[ns]})
	}
	fmt.Fprintf(o.Out, "  records still retained at %s (spec.retainUntil after it), by namespace:\n", now.UTC().Format(time.RFC3339))
	w := tabwriter.NewWriter(o.Out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "  NAMESPACE\tSOURCE\tRECORDS DATABASE\t")
	var unequal []string
	for _, c := range counts {
		mark := ""
		if c.Source != c.Database {
			mark = "DIFFERENT"
			unequal = append(unequal, fmt.Sprintf("namespace %s: %d in the source, %d in the records database", c.Namespace, c.Source, c.Database))
		}
		fmt.Fprintf(w, "  %s\t%d\t%d\t%s\n", c.Namespace, c.Source, c.Database, mark)
	}
	_ = w.Flush()

	var errs []error
	if len(unequal) > 0 {
		errs = append(errs, fmt.Errorf("check: the stores hold different numbers of records:\n  %s\n"+
			"records made while migrate ran are copied by the next run: stop the manager and run migrate again; "+
			"the records database also keeps records the source lost since they were copied (a deleted namespace's)",
			strings.Join(unequal, "\n  ")))
	}
	if missing.n > 0 {
		errs = append(errs, fmt.Errorf("check: %d decision records of the source are not in the records database (made after they were copied? run migrate again): %s",
			missing.n, missing.join(", ")))
	}
	if differ.n > 0 {
		errs = append(errs, fmt.Errorf("check: %d decision records have a spec in the records database other than the source's: %s",
			differ.n, differ.join(", ")))
	}
	if len(errs) == 0 {
		fmt.Fprintln(o.Out, "every record's spec is the same in both stores, and every namespace holds as many records in both")
	}
	return counts, errors.Join(errs...)
}

func mergeKeys(a, b map[string]int64) map[string]int64 {
	out := maps.Clone(a)
	for k, v := range b {
		out[k] = v
	}
	return out
}

// named counts problems and keeps the first of them to name.
type named struct {
	n     int
	first []string
}

// namedAtMost is how many problems of a kind an error names.
const namedAtMost = 50

func (p *named) add(s string) {
	p.n++
	if len(p.first) < namedAtMost {
		p.first = append(p.first, s)
	}
}

// join joins the problems kept, saying how many more there are.
func (p *named) join(sep string) string {
	s := strings.Join(p.first, sep)
	if more := p.n - len(p.first); more > 0 {
		s += fmt.Sprintf("%sand %d more", sep, more)
	}
	return s
}

// listPager pages through the DecisionRecords of a dynamic resource's list function.
func listPager(list func(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error)) RecordPager {
	return func(ctx context.Context, limit int64, cont string) (*unstructured.UnstructuredList, error) {
		return list(ctx, metav1.ListOptions{Limit: limit, Continue: cont})
	}
}

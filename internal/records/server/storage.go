package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/records/pgstore"
)

// Store is what the REST storage needs of a records store.
type Store interface {
	Create(ctx context.Context, r *pgstore.Record) (*pgstore.Record, error)
	Get(ctx context.Context, namespace, name string) (*pgstore.Record, error)
	List(ctx context.Context, opts pgstore.ListOptions) (*pgstore.List, error)
}

// REST serves decisionrecords.records.partnergov.io: get, list (label and
// field selectors, limit and continue) and create, by the creator only. It
// has no update and no delete: no client changes or deletes a record, and
// deleting a namespace leaves its records (the namespace controller deletes
// only what advertises delete).
type REST struct {
	Store Store
	// Creator is the one username that may create records (the manager's).
	Creator string
	Clock   clock.PassiveClock
}

var (
	_ rest.Storage              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.TableConvertor       = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.CategoriesProvider   = &REST{}
)

// New returns an empty record.
func (r *REST) New() runtime.Object { return &recordsv1alpha1.DecisionRecord{} }

// NewList returns an empty list of records.
func (r *REST) NewList() runtime.Object { return &recordsv1alpha1.DecisionRecordList{} }

// Destroy releases nothing: the store is closed by the server.
func (r *REST) Destroy() {}

// NamespaceScoped says records live in namespaces.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is decisionrecord.
func (r *REST) GetSingularName() string { return "decisionrecord" }

// ShortNames are those of the CRD.
func (r *REST) ShortNames() []string { return []string{"drec"} }

// Categories are those of the CRD.
func (r *REST) Categories() []string { return []string{"partnergov"} }

// decode turns a stored row into the API object, with its resourceVersion.
func decode(row *pgstore.Record) (*recordsv1alpha1.DecisionRecord, error) {
	var out recordsv1alpha1.DecisionRecord
	if err := json.Unmarshal(row.Object, &out); err != nil {
		return nil, fmt.Errorf("decoding stored decision record %s/%s: %w", row.Namespace, row.Name, err)
	}
	out.APIVersion, out.Kind = recordsv1alpha1.GroupVersion.String(), "DecisionRecord"
	out.ResourceVersion = strconv.FormatInt(row.ID, 10)
	return &out, nil
}

// storeError turns a store's error into the API's.
func storeError(err error, name string) error {
	var inv *pgstore.InvalidError
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		return apierrors.NewNotFound(GroupResource, name)
	case errors.Is(err, pgstore.ErrAlreadyExists):
		return apierrors.NewAlreadyExists(GroupResource, name)
	case errors.As(err, &inv):
		return apierrors.NewBadRequest(inv.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError("the records database did not answer in time", 1)
	}
	klog.ErrorS(err, "records database")
	return apierrors.NewServiceUnavailable("the records database failed: " + err.Error())
}

// Get returns the record namespace/name.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns, _ := request.NamespaceFrom(ctx)
	row, err := r.Store.Get(ctx, ns, name)
	if err != nil {
		return nil, storeError(err, name)
	}
	return decode(row)
}

// List returns the records the options select, a page at a time.
func (r *REST) List(ctx context.Context, o *metainternalversion.ListOptions) (runtime.Object, error) {
	ns, _ := request.NamespaceFrom(ctx)
	opts := pgstore.ListOptions{Namespace: ns}
	if o != nil {
		if o.ResourceVersionMatch == metav1.ResourceVersionMatchExact {
			return nil, apierrors.NewBadRequest("decision records are listed as they are now: resourceVersionMatch=Exact is not supported")
		}
		opts.Labels, opts.Fields, opts.Limit, opts.Continue = o.LabelSelector, o.FieldSelector, o.Limit, o.Continue
	}
	page, err := r.Store.List(ctx, opts)
	if err != nil {
		return nil, storeError(err, "")
	}
	out := &recordsv1alpha1.DecisionRecordList{
		ListMeta: metav1.ListMeta{ResourceVersion: page.ResourceVersion, Continue: page.Continue},
		Items:    make([]recordsv1alpha1.DecisionRecord, 0, len(page.Records)),
	}
	for _, row := range page.Records {
		rec, err := decode(row)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		out.Items = append(out.Items, *rec)
	}
	return out, nil
}

// nameGenerator names records created with generateName, as the API server does.
var nameGenerator = names.SimpleNameGenerator

// Create records a decision: only the creator may, once per name; the record
// is validated as the CRD's schema would. A name that exists is AlreadyExists,
// which the manager takes as recorded.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	rec, ok := obj.(*recordsv1alpha1.DecisionRecord)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a DecisionRecord: %T", obj))
	}
	user, _ := request.UserFrom(ctx)
	username := "an anonymous user"
	if user != nil {
		username = user.GetName()
	}
	if user == nil || user.GetName() != r.Creator {
		return nil, apierrors.NewForbidden(GroupResource, rec.Name, fmt.Errorf(
			"only the partnergov controller (%s) records decisions; %s may read records, not write them", r.Creator, username))
	}
	ns, _ := request.NamespaceFrom(ctx)
	rec.Namespace = ns
	if rec.Name == "" && rec.GenerateName != "" {
		rec.Name = nameGenerator.GenerateName(rec.GenerateName)
	}
	now := r.Clock.Now()
	rec.UID = types.UID(uuid.NewUUID())
	rec.CreationTimestamp = metav1.NewTime(now.Truncate(time.Second))
	rec.Generation = 1
	rec.ResourceVersion = ""
	rec.DeletionTimestamp, rec.DeletionGracePeriodSeconds = nil, nil
	rec.APIVersion, rec.Kind = recordsv1alpha1.GroupVersion.String(), "DecisionRecord"
	if errs := Validate(rec); len(errs) > 0 {
		return nil, apierrors.NewInvalid(recordsv1alpha1.GroupVersion.WithKind("DecisionRecord").GroupKind(), rec.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, rec); err != nil {
			return nil, err
		}
	}
	if options != nil && slices.Contains(options.DryRun, metav1.DryRunAll) {
		return rec, nil
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	row, err := r.Store.Create(ctx, &pgstore.Record{
		Namespace: rec.Namespace, Name: rec.Name, UID: string(rec.UID),
		Partner: rec.Spec.Partner, Type: string(rec.Spec.Type),
		SubjectKind: rec.Spec.Subject.Kind, SubjectName: rec.Spec.Subject.Name,
		Time: rec.Spec.Time.Time, RetainUntil: rec.Spec.RetainUntil.Time,
		Labels: rec.Labels, Object: body,
	})
	if err != nil {
		return nil, storeError(err, rec.Name)
	}
	rec.ResourceVersion = strconv.FormatInt(row.ID, 10)
	return rec, nil
}

// columns are the CRD's printer columns.
var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "the record's name, derived from the decision"},
	{Name: "Type", Type: "string", Description: "type of decision"},
	{Name: "Partner", Type: "string", Description: "the partner the decision concerns"},
	{Name: "Reason", Type: "string", Description: "a CamelCase reason"},
	{Name: "Actor", Type: "string", Description: "who decided"},
	{Name: "Time", Type: "string", Description: "when the decision was made"},
}

// ConvertToTable gives kubectl get the CRD's columns.
func (r *REST) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{ColumnDefinitions: columns}
	add := func(rec *recordsv1alpha1.DecisionRecord) {
		when := ""
		if !rec.Spec.Time.IsZero() {
			when = rec.Spec.Time.UTC().Format(time.RFC3339)
		}
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{rec.Name, string(rec.Spec.Type), rec.Spec.Partner, rec.Spec.Reason, rec.Spec.Actor, when},
			Object: runtime.RawExtension{Object: rec},
		})
	}
	switch o := obj.(type) {
	case *recordsv1alpha1.DecisionRecord:
		t.ResourceVersion = o.ResourceVersion
		add(o)
	case *recordsv1alpha1.DecisionRecordList:
		t.ResourceVersion, t.Continue = o.ResourceVersion, o.Continue
		for i := range o.Items {
			add(&o.Items[i])
		}
	default:
		return nil, fmt.Errorf("cannot show %T as a table", obj)
	}
	return t, nil
}

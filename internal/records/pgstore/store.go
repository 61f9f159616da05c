// Package pgstore keeps DecisionRecords in PostgreSQL for partnergov's records
// server: an append-only table partitioned by month on the decision's time,
// names unique per namespace across partitions, indexed for the queries
// `kubectl partnergov history` makes (namespace, partner, time; type; subject).
//
// The database itself keeps records as made: a trigger refuses every UPDATE,
// and every DELETE of a record before its retain_until, whoever runs it; the
// records server's role (GrantSQL) may only SELECT, appends through a
// function that writes a record and its name together, and prunes through a
// function that deletes nothing still retained.
//
// The package stores rows; it knows nothing of the API type beyond the
// columns: the records server encodes the object and fills the columns from it.
package pgstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// Record is one stored decision record.
type Record struct {
	// ID orders records and is their resourceVersion; Create assigns it.
	ID          int64
	Namespace   string
	Name        string
	UID         string
	Partner     string
	Type        string
	SubjectKind string
	SubjectName string
	// Time is when the decision was made; it picks the record's partition.
	Time time.Time
	// RetainUntil is when the record may be pruned; deletion before it is refused.
	RetainUntil time.Time
	Labels      map[string]string
	// Object is the whole API object as JSON.
	Object json.RawMessage
	// CreatedAt is when the row was inserted (the database's clock).
	CreatedAt time.Time
}

// ErrNotFound says no record has the namespace and name.
var ErrNotFound = errors.New("decision record not found")

// ErrAlreadyExists says a record with the namespace and name exists: recording
// the same decision again (same derived name) is done already.
var ErrAlreadyExists = errors.New("decision record already exists")

// AlreadyExistsError is Create's error for a name that is taken. It matches
// ErrAlreadyExists with errors.Is.
type AlreadyExistsError struct{ Namespace, Name string }

func (e *AlreadyExistsError) Error() string {
	return fmt.Sprintf("decision record %s/%s already exists", e.Namespace, e.Name)
}

// Is makes errors.Is(err, ErrAlreadyExists) true.
func (e *AlreadyExistsError) Is(target error) bool { return target == ErrAlreadyExists }

// InvalidError says a request cannot be served as asked (a bad selector or
// continue token); the records server answers it with 400 Bad Request.
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

func invalid(format string, args ...any) error { return &InvalidError{fmt.Sprintf(format, args...)} }

// Store reads and appends records through a connection pool.
type Store struct {
	pool *pgxpool.Pool
	// months are the months whose partitions (and the next month's) are known
	// to exist, as Unix seconds of the month's start.
	mu     sync.Mutex
	months map[int64]bool
}

// Open connects to the database at dsn (a PostgreSQL URL or key=value string)
// and checks that it answers. It applies no migrations: Migrate does.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("the records database DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to the records database %s@%s:%d/%s: %w",
			cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return &Store{pool: pool, months: map[int64]bool{}}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers (the records server's readiness).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Migrate brings the schema to this version: idempotent, and safe when
// several servers start at once. It needs the schema owner's rights.
func (s *Store) Migrate(ctx context.Context) error { return migrate(ctx, s.pool) }

// monthOf is the start of t's month in UTC.
func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ensurePartitions makes sure t's month's partition exists (and the next month's).
func (s *Store) ensurePartitions(ctx context.Context, t time.Time, force bool) error {
	m := monthOf(t).Unix()
	s.mu.Lock()
	known := s.months[m]
	s.mu.Unlock()
	if known && !force {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `SELECT decision_records_ensure_partitions($1)`, t); err != nil {
		return fmt.Errorf("creating the records partition of %s: %w", monthOf(t).Format("2006-01"), err) // wrapped: Create retries a deadlock
	}
	s.mu.Lock()
	s.months[m] = true
	s.mu.Unlock()
	return nil
}

// Create appends r, assigning its ID and CreatedAt. A record of the same
// namespace and name (in any month) makes it fail with *AlreadyExistsError.
func (s *Store) Create(ctx context.Context, r *Record) (*Record, error) {
	if r.Namespace == "" || r.Name == "" {
		return nil, errors.New("a decision record needs a namespace and a name")
	}
	if !r.RetainUntil.After(r.Time) {
		return nil, fmt.Errorf("decision record %s/%s: retainUntil %s is not after its time %s",
			r.Namespace, r.Name, r.RetainUntil.UTC().Format(time.RFC3339), r.Time.UTC().Format(time.RFC3339))
	}
	lbls := r.Labels
	if lbls == nil {
		lbls = map[string]string{}
	}
	labelsJSON, err := json.Marshal(lbls)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		out, err := s.create(ctx, r, labelsJSON, attempt > 0)
		var pgErr *pgconn.PgError
		// No partition for the row (it was dropped after this server saw
		// it), or a deadlock with a partition dropped meanwhile: once more.
		if attempt < 3 && errors.As(err, &pgErr) && (pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition") || pgErr.Code == "40P01") {
			continue
		}
		return out, err
	}
}

func (s *Store) create(ctx context.Context, r *Record, labelsJSON []byte, recheck bool) (*Record, error) {
	if err := s.ensurePartitions(ctx, r.Time, recheck); err != nil {
		return nil, err
	}
	return s.insert(ctx, r, labelsJSON)
}

// insert appends r through the owner's decision_records_append, which
// writes its name and the record together (the records role may not INSERT).
func (s *Store) insert(ctx context.Context, r *Record, labelsJSON []byte) (*Record, error) {
	out := *r
	err := s.pool.QueryRow(ctx, `SELECT record_id, record_created_at FROM decision_records_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.Namespace, r.Name, r.UID, r.Partner, r.Type, r.SubjectKind, r.SubjectName, r.Time, r.RetainUntil,
		string(labelsJSON), string(r.Object)).Scan(&out.ID, &out.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "decision_record_names_pkey" {
		return nil, &AlreadyExistsError{Namespace: r.Namespace, Name: r.Name}
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// columns are what a query returns for a Record, in scan's order.
const columns = `r.id, r.namespace, r.name, r.uid, r.partner, r.type, r.subject_kind, r.subject_name,
	r.time, r.retain_until, r.labels, r.object, r.created_at`

func scan(row pgx.Row) (*Record, error) {
	var r Record
	var lbls, obj []byte
	if err := row.Scan(&r.ID, &r.Namespace, &r.Name, &r.UID, &r.Partner, &r.Type, &r.SubjectKind, &r.SubjectName,
		&r.Time, &r.RetainUntil, &lbls, &obj, &r.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(lbls, &r.Labels); err != nil {
		return nil, fmt.Errorf("the labels of decision record %s/%s: %w", r.Namespace, r.Name, err)
	}
	r.Object = obj
	return &r, nil
}

// Get returns the record namespace/name, or ErrNotFound.
func (s *Store) Get(ctx context.Context, namespace, name string) (*Record, error) {
	r, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+`
		FROM decision_record_names n JOIN decision_records r ON r.time = n.time AND r.id = n.id
		WHERE n.namespace = $1 AND n.name = $2`, namespace, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, namespace, name)
	}
	return r, err
}

// Key names a record: its namespace and name.
type Key struct{ Namespace, Name string }

// GetMany returns those of the records keys name that exist, by key, in one
// query (the migration from the CRD store looks up a page of records at a time).
func (s *Store) GetMany(ctx context.Context, keys []Key) (map[Key]*Record, error) {
	out := make(map[Key]*Record, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	namespaces, names := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		namespaces[i], names[i] = k.Namespace, k.Name
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+`
		FROM unnest($1::text[], $2::text[]) AS k(namespace, name)
		JOIN decision_record_names n ON n.namespace = k.namespace AND n.name = k.name
		JOIN decision_records r ON r.time = n.time AND r.id = n.id`, namespaces, names)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[Key{r.Namespace, r.Name}] = r
	}
	return out, rows.Err()
}

// CountByNamespace counts, in each namespace that has any, the records still
// retained at t (retain_until after t): those no pruner may delete yet.
func (s *Store) CountByNamespace(ctx context.Context, t time.Time) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT namespace, count(*) FROM decision_records WHERE retain_until > $1 GROUP BY namespace`, t)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var ns string
		var n int64
		if err := rows.Scan(&ns, &n); err != nil {
			return nil, err
		}
		out[ns] = n
	}
	return out, rows.Err()
}

// ListOptions select and page records.
type ListOptions struct {
	// Namespace to list; empty lists every namespace.
	Namespace string
	// Labels selects by label; nil selects every record.
	Labels labels.Selector
	// Fields selects by metadata.name, metadata.namespace, spec.partner and
	// spec.type (= and !=); nil selects every record.
	Fields fields.Selector
	// Limit is the most records to return; 0 returns all.
	Limit int64
	// Continue is the token of the previous page's List.
	Continue string
}

// List is one page of records.
type List struct {
	Records []*Record
	// Continue is the token for the next page; empty on the last page.
	Continue string
	// ResourceVersion is the highest ID assigned when the page was read.
	ResourceVersion string
}

// SelectableFields are the fields a List selects by, and their columns.
var SelectableFields = map[string]string{
	"metadata.name":      "name",
	"metadata.namespace": "namespace",
	"spec.partner":       "partner",
	"spec.type":          "type",
}

// cursor is the position after the last record of a page: records are
// listed in (time, id) order, and a record inserted while a client pages
// lands after the cursor or is new; none is listed twice or skipped.
type cursor struct {
	V    int       `json:"v"`
	Time time.Time `json:"t"`
	ID   int64     `json:"i"`
}

func (c cursor) token() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseToken(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.V != 1 || c.ID <= 0 {
		return cursor{}, invalid("the continue token %q is not one this server gave out: start the list again without it", s)
	}
	return c, nil
}

// where builds the SQL conditions of opts, appending their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) add(format string, args ...any) {
	w.conds = append(w.conds, fmt.Sprintf(format, args...))
}

func (w *where) labels(sel labels.Selector) error {
	if sel == nil || sel.Empty() {
		return nil
	}
	reqs, selectable := sel.Requirements()
	if !selectable {
		w.add("false")
		return nil
	}
	for _, r := range reqs {
		value := func() string { return "r.labels->>" + w.arg(r.Key()) + "::text" }
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			// Containment, which the labels' GIN index serves.
			var any []string
			for _, v := range r.Values().List() {
				doc, _ := json.Marshal(map[string]string{r.Key(): v})
				any = append(any, "r.labels @> "+w.arg(string(doc))+"::jsonb")
			}
			w.add("(%s)", strings.Join(any, " OR "))
		case selection.NotEquals, selection.NotIn:
			w.add("NOT coalesce(%s = ANY(%s::text[]), false)", value(), w.arg(r.Values().List()))
		case selection.Exists:
			w.add("%s IS NOT NULL", value())
		case selection.DoesNotExist:
			w.add("%s IS NULL", value())
		case selection.GreaterThan, selection.LessThan:
			vals := r.Values().List()
			if len(vals) != 1 {
				return invalid("label selector %s: %s takes one integer", r.String(), r.Operator())
			}
			n, err := strconv.ParseInt(vals[0], 10, 64)
			if err != nil {
				return invalid("label selector %s: %q is not an integer", r.String(), vals[0])
			}
			op := ">"
			if r.Operator() == selection.LessThan {
				op = "<"
			}
			v := value()
			w.add(`CASE WHEN %[1]s ~ '^[-+]?[0-9]{1,18}$' THEN (%[1]s)::bigint %[2]s %[3]s ELSE false END`, v, op, w.arg(n))
		default:
			return invalid("label selector %s: operator %s is not supported", r.String(), r.Operator())
		}
	}
	return nil
}

func (w *where) fields(sel fields.Selector) error {
	if sel == nil || sel.Empty() {
		return nil
	}
	for _, r := range sel.Requirements() {
		col, ok := SelectableFields[r.Field]
		if !ok {
			return invalid("field selector %q: decision records are selected by metadata.name, metadata.namespace, spec.partner and spec.type only", r.Field)
		}
		switch r.Operator {
		case selection.Equals, selection.DoubleEquals:
			w.add("r.%s = %s", col, w.arg(r.Value))
		case selection.NotEquals:
			w.add("r.%s <> %s", col, w.arg(r.Value))
		default:
			return invalid("field selector %s%s%s: only =, == and != are supported", r.Field, r.Operator, r.Value)
		}
	}
	return nil
}

// List returns the records opts select, oldest decision first (then by ID),
// a page of at most opts.Limit with the token of the next.
func (s *Store) List(ctx context.Context, opts ListOptions) (*List, error) {
	if opts.Limit < 0 {
		return nil, invalid("limit must not be negative, not %d", opts.Limit)
	}
	var w where
	if opts.Namespace != "" {
		w.add("r.namespace = %s", w.arg(opts.Namespace))
	}
	if err := w.labels(opts.Labels); err != nil {
		return nil, err
	}
	if err := w.fields(opts.Fields); err != nil {
		return nil, err
	}
	if opts.Continue != "" {
		c, err := parseToken(opts.Continue)
		if err != nil {
			return nil, err
		}
		t, id := w.arg(c.Time), w.arg(c.ID)
		// time >= t lets the planner skip the earlier months' partitions.
		w.add("r.time >= %s AND (r.time, r.id) > (%s, %s)", t, t, id)
	}
	sql := `SELECT ` + columns + ` FROM decision_records r`
	if len(w.conds) > 0 {
		sql += " WHERE " + strings.Join(w.conds, " AND ")
	}
	sql += " ORDER BY r.time, r.id"
	if opts.Limit > 0 {
		sql += " LIMIT " + w.arg(opts.Limit+1)
	}
	var rv int64
	if err := s.pool.QueryRow(ctx, `SELECT last_value FROM decision_records_id_seq`).Scan(&rv); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &List{ResourceVersion: strconv.FormatInt(rv, 10)}
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out.Records = append(out.Records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if opts.Limit > 0 && int64(len(out.Records)) > opts.Limit {
		out.Records = out.Records[:opts.Limit]
		last := out.Records[len(out.Records)-1]
		out.Continue = cursor{V: 1, Time: last.Time, ID: last.ID}.token()
	}
	return out, nil
}

// pruneBatch is how many records one pruning transaction deletes at most.
const pruneBatch = 1000

// Prune deletes every record past its retention at now (or at the database's
// clock, if that is earlier: the trigger judges by it): first the months that
// have ended whose records are all past it, whole partitions at a time, then
// the rest in batches. It returns how many records it deleted.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	rows, err := s.pool.Query(ctx, `SELECT decision_records_expired_partitions($1)`, now)
	if err != nil {
		return 0, fmt.Errorf("finding the expired partitions of decision records: %w", err)
	}
	parts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("finding the expired partitions of decision records: %w", err)
	}
	for _, part := range parts {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT decision_records_drop_partition($1, $2)`, part, now).Scan(&n); err != nil {
			return total, fmt.Errorf("dropping the expired partition %s of decision records: %w", part, err)
		}
		total += n
	}
	if len(parts) > 0 {
		s.mu.Lock()
		s.months = map[int64]bool{} // some are gone
		s.mu.Unlock()
	}
	for {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT decision_records_prune($1, $2)`, now, pruneBatch).Scan(&n); err != nil {
			return total, fmt.Errorf("pruning decision records past their retention: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

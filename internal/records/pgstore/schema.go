package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations are applied in order, each once, in the schema the migrating
// connection's search_path puts first ({{schema}} is that schema, quoted).
// Never change one that has shipped: add another.
var migrations = []string{
	// 1: the append-only records, partitioned by month on the decision's time;
	// the names table keeps (namespace, name) unique across partitions (a
	// unique index on a partitioned table must include the partition key).
	`
CREATE TABLE decision_records (
	id           bigserial   NOT NULL,
	namespace    text        NOT NULL,
	name         text        NOT NULL,
	uid          text        NOT NULL,
	partner      text        NOT NULL,
	type         text        NOT NULL,
	subject_kind text        NOT NULL,
	subject_name text        NOT NULL,
	time         timestamptz NOT NULL,
	retain_until timestamptz NOT NULL,
	labels       jsonb       NOT NULL DEFAULT '{}',
	object       jsonb       NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (time, id),
	CONSTRAINT retained_after_the_decision CHECK (retain_until > time)
) PARTITION BY RANGE (time);

CREATE INDEX decision_records_by_namespace ON decision_records (namespace, time, id);
CREATE INDEX decision_records_by_partner ON decision_records (namespace, partner, time, id);
CREATE INDEX decision_records_by_type ON decision_records (namespace, type, time, id);
CREATE INDEX decision_records_by_subject ON decision_records (namespace, subject_kind, subject_name);
CREATE INDEX decision_records_by_retention ON decision_records (retain_until);
CREATE INDEX decision_records_by_labels ON decision_records USING gin (labels jsonb_path_ops);

CREATE TABLE decision_record_names (
	namespace    text        NOT NULL,
	name         text        NOT NULL,
	time         timestamptz NOT NULL,
	id           bigint      NOT NULL,
	retain_until timestamptz NOT NULL,
	PRIMARY KEY (namespace, name)
);
CREATE INDEX decision_record_names_by_time ON decision_record_names (time);

-- Records are append-only: no row is ever updated, none deleted before it
-- is past its retention, and neither table is ever truncated.
CREATE FUNCTION decision_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		RAISE EXCEPTION 'decision record %/% cannot be changed: decision records are append-only, kept as the decision was made', OLD.namespace, OLD.name
			USING ERRCODE = 'integrity_constraint_violation',
			      HINT = 'a correction is a new decision with a record of its own';
	END IF;
	IF OLD.retain_until > now() THEN
		RAISE EXCEPTION 'decision record %/% is retained until % and cannot be deleted before then', OLD.namespace, OLD.name,
			to_char(OLD.retain_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
			USING ERRCODE = 'integrity_constraint_violation',
			      HINT = 'the records server prunes a record once its retention (fixed when the decision was made) has passed';
	END IF;
	RETURN OLD;
END $$;

CREATE FUNCTION decision_records_no_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'decision records are never truncated: each is kept until its retention has passed'
		USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON decision_records
	FOR EACH ROW EXECUTE FUNCTION decision_records_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON decision_record_names
	FOR EACH ROW EXECUTE FUNCTION decision_records_append_only();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON decision_records
	FOR EACH STATEMENT EXECUTE FUNCTION decision_records_no_truncate();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON decision_record_names
	FOR EACH STATEMENT EXECUTE FUNCTION decision_records_no_truncate();

-- The partitions of t's month and the next, created when missing. It runs
-- as the schema's owner (SECURITY DEFINER), so the records server's role
-- needs no right to create tables.
CREATE FUNCTION decision_records_ensure_partitions(t timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
DECLARE
	month timestamp := date_trunc('month', t AT TIME ZONE 'UTC');
	lo timestamp;
	part text;
BEGIN
	FOR i IN 0..1 LOOP
		lo := month + make_interval(months => i);
		part := 'decision_records_' || to_char(lo, 'YYYY"m"MM');
		IF to_regclass(quote_ident(part)) IS NULL THEN
			-- The lock creating a partition takes anyway, taken first (as
			-- dropping one does, so neither waits for the other holding
			-- half) and before looking again: acquiring a table lock (unlike
			-- an advisory one) makes the catalog show a partition that
			-- another server created meanwhile.
			LOCK TABLE decision_records IN ACCESS EXCLUSIVE MODE;
			IF to_regclass(quote_ident(part)) IS NULL THEN
				EXECUTE format('CREATE TABLE %I PARTITION OF decision_records FOR VALUES FROM (%L) TO (%L)',
					part, lo AT TIME ZONE 'UTC', (lo + interval '1 month') AT TIME ZONE 'UTC');
			END IF;
		END IF;
	END LOOP;
END $$;

-- Deletes at most batch records past their retention at least(at, now())
-- and frees their names; returns how many. The records server's role may
-- call it and has no DELETE right of its own.
CREATE FUNCTION decision_records_prune(at timestamptz, batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
DECLARE
	cutoff timestamptz := least(at, now());
	n bigint;
BEGIN
	WITH gone AS (
		DELETE FROM decision_records d
		WHERE (d.time, d.id) IN (SELECT r.time, r.id FROM decision_records r WHERE r.retain_until <= cutoff LIMIT batch)
		RETURNING d.namespace, d.name
	), freed AS (
		DELETE FROM decision_record_names n USING gone g
		WHERE n.namespace = g.namespace AND n.name = g.name
		RETURNING 1
	)
	SELECT count(*) INTO n FROM gone;
	RETURN n;
END $$;

-- The partitions of months that have ended by least(at, now()) whose every
-- record is past its retention then: those decision_records_drop_partition
-- may drop. It reads without locking anyone out.
CREATE FUNCTION decision_records_expired_partitions(at timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
DECLARE
	cutoff timestamptz := least(at, now());
	p record;
	live boolean;
BEGIN
	FOR p IN
		SELECT c.relname AS part, pg_get_expr(c.relpartbound, c.oid) AS bound
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'decision_records'::regclass
	LOOP
		CONTINUE WHEN substring(p.bound FROM $r$TO \('([^']*)'\)$r$)::timestamptz > cutoff;
		EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE retain_until > $1)', p.part) INTO live USING cutoff;
		CONTINUE WHEN live;
		RETURN NEXT p.part;
	END LOOP;
END $$;

-- Drops partition part, with its records' names, if its month has ended by
-- least(at, now()) and every record in it is past its retention then;
-- returns how many records went with it. Cheaper than deleting them row by
-- row. It locks the table first, as creating a partition and every statement
-- on the table do, so it neither deadlocks with them nor races an insert.
CREATE FUNCTION decision_records_drop_partition(part text, at timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
DECLARE
	cutoff timestamptz := least(at, now());
	bound text;
	lo timestamptz;
	hi timestamptz;
	live boolean;
	n bigint;
BEGIN
	LOCK TABLE decision_records IN ACCESS EXCLUSIVE MODE;
	SELECT pg_get_expr(c.relpartbound, c.oid) INTO bound
	FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'decision_records'::regclass AND c.relname = part;
	IF bound IS NULL THEN
		RETURN 0; -- not a partition of decision_records (or gone already)
	END IF;
	lo := substring(bound FROM $r$FROM \('([^']*)'\)$r$)::timestamptz;
	hi := substring(bound FROM $r$TO \('([^']*)'\)$r$)::timestamptz;
	IF hi IS NULL OR hi > cutoff THEN
		RETURN 0;
	END IF;
	EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE retain_until > $1)', part) INTO live USING cutoff;
	IF live THEN
		RETURN 0;
	END IF;
	DELETE FROM decision_record_names WHERE time >= lo AND time < hi;
	EXECUTE format('SELECT count(*) FROM %I', part) INTO n;
	EXECUTE format('DROP TABLE %I', part);
	RETURN n;
END $$;

REVOKE ALL ON FUNCTION decision_records_ensure_partitions(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION decision_records_prune(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION decision_records_expired_partitions(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION decision_records_drop_partition(text, timestamptz) FROM PUBLIC;
`,
	// 2: each partner's chain is pruned oldest first (internal/record's
	// Verify takes a missing oldest run past its retention as pruned, any
	// other missing record as deleted). Retention is fixed when a decision is
	// made, so after recordRetention is lowered a newer record can pass its
	// retention before an older one: it then waits for the older ones. A
	// record without spec.chain (made before chaining) is pruned by its own
	// retention alone.
	`
CREATE FUNCTION decision_records_sequence(object jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (object->'spec'->'chain'->>'sequence')::bigint $$;

CREATE INDEX decision_records_by_chain ON decision_records
	(namespace, partner, decision_records_sequence(object)) INCLUDE (retain_until)
	WHERE decision_records_sequence(object) IS NOT NULL;

-- Whether record (namespace, partner, object) waits for an older record of
-- its partner's chain that is still retained at cutoff.
CREATE FUNCTION decision_records_waits(ns text, partner text, object jsonb, cutoff timestamptz) RETURNS boolean
LANGUAGE sql STABLE SET search_path = {{schema}}, pg_temp AS $$
	-- Positional: a parameter named like a column would mean the column.
	SELECT decision_records_sequence($3) IS NOT NULL AND EXISTS (
		SELECT 1 FROM decision_records o
		WHERE o.namespace = $1 AND o.partner = $2
		  AND decision_records_sequence(o.object) < decision_records_sequence($3)
		  AND o.retain_until > $4)
$$;

CREATE OR REPLACE FUNCTION decision_records_prune(at timestamptz, batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
DECLARE
	cutoff timestamptz := least(at, now());
	n bigint;
BEGIN
	WITH gone AS (
		DELETE FROM decision_records d
		WHERE (d.time, d.id) IN (SELECT r.time, r.id FROM decision_records r
			WHERE r.retain_until <= cutoff AND NOT decision_records_waits(r.namespace, r.partner, r.object, cutoff)
			LIMIT batch)
		RETURNING d.namespace, d.name
	), freed AS (
		DELETE FROM decision_record_names n USING gone g
		WHERE n.namespace = g.namespace AND n.name = g.name
		RETURNING 1
	)
	SELECT count(*) INTO n FROM gone;
	RETURN n;
END $$;

-- decision_records_expired_partitions stays as it was: a cheap first pass
-- over each partition alone (reading the whole table here, with partitions
-- being created, deadlocks); decision_records_drop_partition decides, under
-- the table's lock, whether a record of the month waits for an older one.

CREATE OR REPLACE FUNCTION decision_records_drop_partition(part text, at timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
DECLARE
	cutoff timestamptz := least(at, now());
	bound text;
	lo timestamptz;
	hi timestamptz;
	live boolean;
	n bigint;
BEGIN
	LOCK TABLE decision_records IN ACCESS EXCLUSIVE MODE;
	SELECT pg_get_expr(c.relpartbound, c.oid) INTO bound
	FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'decision_records'::regclass AND c.relname = part;
	IF bound IS NULL THEN
		RETURN 0; -- not a partition of decision_records (or gone already)
	END IF;
	lo := substring(bound FROM $r$FROM \('([^']*)'\)$r$)::timestamptz;
	hi := substring(bound FROM $r$TO \('([^']*)'\)$r$)::timestamptz;
	IF hi IS NULL OR hi > cutoff THEN
		RETURN 0;
	END IF;
	EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I r WHERE r.retain_until > $1 OR decision_records_waits(r.namespace, r.partner, r.object, $1))', part)
		INTO live USING cutoff;
	IF live THEN
		RETURN 0;
	END IF;
	DELETE FROM decision_record_names WHERE time >= lo AND time < hi;
	EXECUTE format('SELECT count(*) FROM %I', part) INTO n;
	EXECUTE format('DROP TABLE %I', part);
	RETURN n;
END $$;

REVOKE ALL ON FUNCTION decision_records_prune(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION decision_records_drop_partition(text, timestamptz) FROM PUBLIC;
`,
	// 3: a row's columns say what its object says. Queries select and prune by
	// the columns, `history` and `--verify` read the objects: a row written
	// past the records server whose columns and object disagree could hide
	// from one and act on the other (a row filed under a partner it does not
	// show, holding that partner's pruning back). And a chain waits only for
	// rows history lists: those labelled with their partner, at a sequence.
	`
CREATE FUNCTION decision_records_consistent() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	o jsonb := NEW.object;
BEGIN
	IF o->'metadata'->>'namespace' IS DISTINCT FROM NEW.namespace
	   OR o->'metadata'->>'name' IS DISTINCT FROM NEW.name
	   OR coalesce(o->'metadata'->'labels', '{}'::jsonb) IS DISTINCT FROM NEW.labels
	   OR o->'spec'->>'partner' IS DISTINCT FROM NEW.partner
	   OR o->'spec'->>'type' IS DISTINCT FROM NEW.type
	   OR o->'spec'->'subject'->>'kind' IS DISTINCT FROM NEW.subject_kind
	   OR o->'spec'->'subject'->>'name' IS DISTINCT FROM NEW.subject_name
	   OR (o->'spec'->>'time')::timestamptz IS DISTINCT FROM date_trunc('second', NEW.time)
	   OR (o->'spec'->>'retainUntil')::timestamptz IS DISTINCT FROM date_trunc('second', NEW.retain_until) THEN
		RAISE EXCEPTION 'decision record %/%: its columns do not say what its object says (namespace, name, labels, partner, type, subject, time, retainUntil)', NEW.namespace, NEW.name
			USING ERRCODE = 'integrity_constraint_violation',
			      HINT = 'records are written through the records server, which fills the columns from the object';
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER consistent BEFORE INSERT ON decision_records
	FOR EACH ROW EXECUTE FUNCTION decision_records_consistent();

CREATE OR REPLACE FUNCTION decision_records_waits(ns text, partner text, object jsonb, cutoff timestamptz) RETURNS boolean
LANGUAGE sql STABLE SET search_path = {{schema}}, pg_temp AS $$
	-- Positional: a parameter named like a column would mean the column.
	SELECT decision_records_sequence($3) IS NOT NULL AND EXISTS (
		SELECT 1 FROM decision_records o
		WHERE o.namespace = $1 AND o.partner = $2
		  AND (o.labels->>'records.partnergov.io/partner' = $2 OR length($2) > 63)
		  AND decision_records_sequence(o.object) >= 1
		  AND decision_records_sequence(o.object) < decision_records_sequence($3)
		  AND o.retain_until > $4)
$$;
`,
	// 4: records are appended only through the owner's function, which
	// writes the name and the record together: a role that could INSERT into
	// the tables could take a name alone (a future decision's, so that the
	// records server's create of it finds the name taken and the decision is
	// never recorded) or write rows past the records server's check of who
	// creates records. GrantSQL grants the function and no INSERT. The
	// triggers (append-only, consistent) apply to its rows as to any.
	`
CREATE FUNCTION decision_records_append(a_namespace text, a_name text, a_uid text, a_partner text, a_type text,
	a_subject_kind text, a_subject_name text, a_time timestamptz, a_retain_until timestamptz, a_labels jsonb, a_object jsonb,
	OUT record_id bigint, OUT record_created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
BEGIN
	INSERT INTO decision_record_names (namespace, name, time, id, retain_until)
	VALUES (a_namespace, a_name, a_time, nextval('decision_records_id_seq'), a_retain_until)
	ON CONFLICT (namespace, name) DO NOTHING
	RETURNING id INTO record_id;
	IF record_id IS NULL THEN
		RAISE EXCEPTION 'decision record %/% already exists', a_namespace, a_name
			USING ERRCODE = 'unique_violation', CONSTRAINT = 'decision_record_names_pkey';
	END IF;
	INSERT INTO decision_records (id, namespace, name, uid, partner, type, subject_kind, subject_name, time, retain_until, labels, object)
	VALUES (record_id, a_namespace, a_name, a_uid, a_partner, a_type, a_subject_kind, a_subject_name, a_time, a_retain_until, a_labels, a_object)
	RETURNING created_at INTO record_created_at;
END $$;

REVOKE ALL ON FUNCTION decision_records_append(text, text, text, text, text, text, text, timestamptz, timestamptz, jsonb, jsonb) FROM PUBLIC;
`,
}

// migrationsTable records which migrations a schema has.
const migrationsTable = `CREATE TABLE IF NOT EXISTS decision_records_migrations (
	version    integer     PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// migrate applies the migrations the schema lacks, in one transaction under
// an advisory lock, so that replicas starting together apply each once.
func migrate(ctx context.Context, conn interface {
	Begin(context.Context) (pgx.Tx, error)
}) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('partnergov decision_records migrations'))`); err != nil {
		return err
	}
	var schema string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == "" {
		return fmt.Errorf("the database connection has no schema to create the records' tables in (search_path is empty)")
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('decision_records_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return err
	}
	have := 0
	if exists {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM decision_records_migrations`).Scan(&have); err != nil {
			return err
		}
	}
	if have == len(migrations) {
		return nil // up to date: no DDL, so the records role may start on a migrated schema
	}
	if !exists {
		if _, err := tx.Exec(ctx, migrationsTable); err != nil {
			return fmt.Errorf("creating decision_records_migrations in schema %s (migrating needs the schema owner's rights): %w", schema, err)
		}
	}
	if have > len(migrations) {
		return fmt.Errorf("the database's records schema is at version %d, newer than this records server knows (%d): run a newer records server", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		sql := strings.ReplaceAll(migrations[v-1], "{{schema}}", pgx.Identifier{schema}.Sanitize())
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("applying records schema migration %d in schema %s (migrating needs the schema owner's rights): %w", v, schema, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO decision_records_migrations (version) VALUES ($1)`, v); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// GrantSQL returns the statements that give role what the records server
// needs and nothing more: read records, append them, create partitions and
// prune records past their retention through the owner's functions. No
// INSERT, UPDATE, DELETE or TRUNCATE of its own, no DDL. Run them as the
// schema's owner after the migrations, in the schema they ran in; they first
// revoke what earlier versions granted (INSERT, the sequence's USAGE), so
// running them again fixes a role granted by an older version.
func GrantSQL(schema, role string) string {
	r := pgx.Identifier{role}.Sanitize()
	return strings.Join([]string{
		"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON decision_records, decision_record_names, decision_records_migrations FROM " + r,
		"REVOKE USAGE, UPDATE ON SEQUENCE decision_records_id_seq FROM " + r,
		"GRANT USAGE ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " TO " + r,
		"GRANT SELECT ON decision_records, decision_record_names TO " + r,
		"GRANT SELECT ON decision_records_migrations TO " + r,
		"GRANT SELECT ON SEQUENCE decision_records_id_seq TO " + r,
		"GRANT EXECUTE ON FUNCTION decision_records_append(text, text, text, text, text, text, text, timestamptz, timestamptz, jsonb, jsonb), " +
			"decision_records_ensure_partitions(timestamptz), decision_records_prune(timestamptz, integer), " +
			"decision_records_expired_partitions(timestamptz), decision_records_drop_partition(text, timestamptz) TO " + r,
	}, ";\n") + ";\n"
}

package harness

import (
	"context"

	"github.com/partnergov/partnergov/test/postgres"
)

// PostgresRecords is a control plane whose DecisionRecords are served by the
// records server (its own process, StartRecordsServer) on a throwaway
// PostgreSQL, registered by its APIService: the postgres records store of
// make chaos (-only records-outage) and make soak (-records-store postgres).
type PostgresRecords struct {
	Cluster  *Cluster
	Records  *RecordsServer
	Postgres *postgres.Server
}

// RecordsDatabase is the database the records server keeps records in.
const RecordsDatabase = "records"

// StartPostgresRecords builds the records server from root, starts
// PostgreSQL, a control plane under dir prepared for the records server
// (Options.RecordsServer), and the records server, registered.
func StartPostgresRecords(ctx context.Context, root, dir string) (*PostgresRecords, error) {
	bin, err := BuildRecordsServer(ctx, root)
	if err != nil {
		return nil, err
	}
	pg, err := postgres.Start(ctx)
	if err != nil {
		return nil, err
	}
	p := &PostgresRecords{Postgres: pg}
	fail := func(err error) (*PostgresRecords, error) { p.Stop(); return nil, err }
	dsn, err := pg.CreateDatabase(ctx, RecordsDatabase)
	if err != nil {
		return fail(err)
	}
	if p.Cluster, err = StartWith(ctx, dir, Options{RecordsServer: true}); err != nil {
		return fail(err)
	}
	if p.Records, err = p.Cluster.StartRecordsServer(ctx, bin, dsn); err != nil {
		return fail(err)
	}
	if err := p.Records.Register(ctx); err != nil {
		return fail(err)
	}
	return p, nil
}

// Stop stops the records server, the control plane and PostgreSQL (what was started).
func (p *PostgresRecords) Stop() {
	if p.Records != nil {
		p.Records.Stop()
	}
	if p.Cluster != nil {
		p.Cluster.Stop()
	}
	if p.Postgres != nil {
		_ = p.Postgres.Stop()
	}
}

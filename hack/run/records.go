package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/partnergov/partnergov/test/postgres"
	"github.com/partnergov/partnergov/test/recordsserver"
	"github.com/partnergov/partnergov/test/testenv"
)

// The records stores `make run` starts (RECORDS=...).
const (
	// storeCRD keeps DecisionRecords in their CRD, in etcd: the default.
	storeCRD = "crd"
	// storePostgres serves them from the records server on a throwaway PostgreSQL.
	storePostgres = "postgres"
)

// recordsDatabase is the database the records server keeps records in.
const recordsDatabase = "records"

// controlPlane is what `make run` starts before the manager: etcd and
// kube-apiserver, and for the postgres store PostgreSQL and the records
// server registered by an APIService. Stop stops whatever has started, in
// reverse order; it may be called from the signal handler while start runs.
type controlPlane struct {
	mu  sync.Mutex
	env *testenv.Env
	// pg, dsn and dir are set in the postgres store: the database, its DSN,
	// and the directory of the aggregator's and the records server's certificates.
	pg  *postgres.Server
	dsn string
	dir string
	// server is the records server.
	server *recordsserver.Running
}

// start starts the control plane for store (storeCRD or storePostgres).
func (c *controlPlane) start(ctx context.Context, store string) error {
	switch store {
	case storeCRD:
		env, err := testenv.Start()
		if err != nil {
			return err
		}
		c.set(func() { c.env = env })
		return nil
	case storePostgres:
		return c.startPostgres(ctx)
	}
	return fmt.Errorf("RECORDS=%s: the records store is crd (the default: a CRD, in etcd) or postgres (the records server on PostgreSQL)", store)
}

func (c *controlPlane) set(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// startPostgres starts PostgreSQL from Debian's binaries in a temporary
// directory, the control plane with the aggregation flags and without the
// records CRD (with it, kube-apiserver would serve the group itself), the
// records server in process with the manager's user as the one creator, and
// registers it by an APIService whose endpoint is this machine's address.
func (c *controlPlane) startPostgres(ctx context.Context) error {
	fmt.Println("starting PostgreSQL ...")
	pg, err := postgres.Start(ctx)
	if err != nil {
		return err
	}
	c.set(func() { c.pg = pg })
	dsn, err := pg.CreateDatabase(ctx, recordsDatabase)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "partnergov-run-records-")
	if err != nil {
		return err
	}
	c.set(func() { c.dsn, c.dir = dsn, dir })
	args, err := testenv.AggregationArgs(dir)
	if err != nil {
		return err
	}
	fmt.Println("starting etcd and kube-apiserver (API aggregation on, no DecisionRecord CRD) ...")
	env, err := testenv.StartWith(testenv.StartOptions{APIServerArgs: args, ExcludeCRDs: []string{testenv.RecordsCRD}})
	if err != nil {
		return err
	}
	c.set(func() { c.env = env })
	fmt.Println("starting the records server ...")
	rs, err := recordsserver.Start(ctx, env, dsn, dir, recordsserver.Options{})
	if err != nil {
		return err
	}
	c.set(func() { c.server = rs })
	return rs.Register(ctx, env)
}

// Stop stops the records server, the control plane and PostgreSQL, whichever
// have started, and removes the certificates' directory. A second call finds
// nothing left to stop.
func (c *controlPlane) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if c.server != nil {
		if err := c.server.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("the records server: %w", err))
		}
		c.server = nil
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping the control plane: %w", err))
		}
		c.env = nil
	}
	if c.pg != nil {
		if err := c.pg.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping PostgreSQL: %w", err))
		}
		c.pg = nil
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
		c.dir = ""
	}
	return errors.Join(errs...)
}

// psqlCommand is how to reach the records database with psql.
func (c *controlPlane) psqlCommand() string {
	return fmt.Sprintf("%s %q", filepath.Join(c.pg.Bin, "psql"), c.dsn)
}

package postgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartServesAThrowawayDatabaseAndStopRemovesIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Stop()
		}
	}()
	dsn, err := s.CreateDatabase(ctx, "records_test")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://partnergov@127.0.0.1:" + strconv.Itoa(s.Port) + "/records_test?sslmode=disable"; dsn != want {
		t.Errorf("DSN %q, want %q", dsn, want)
	}
	out, err := s.Psql(ctx, "records_test", "SELECT current_user || ' ' || current_database()")
	if err != nil {
		t.Fatal(err)
	}
	if out != "partnergov records_test" {
		t.Errorf("connected as %q, want partnergov records_test", out)
	}
	// initdb refuses root: as root, the server runs as another user.
	if os.Geteuid() == 0 {
		fi, err := os.Stat(filepath.Join(s.Dir, "data", "PG_VERSION"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := statUID(fi); uid == 0 {
			t.Errorf("the data directory belongs to root; initdb must run unprivileged")
		}
	}
	if _, err := s.Psql(ctx, "records_test", "SELECT * FROM no_such_table"); err == nil {
		t.Errorf("an SQL error was not returned as an error")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s behind (%v)", s.Dir, err)
	}
	if s.ready(ctx) {
		t.Errorf("the server still accepts connections after Stop")
	}
}

// TestARestartKeepsTheDataAndThePort: Shutdown and StartAgain restart the
// server on its data directory and port, so clients reconnect to the same DSN
// and find what was committed before.
func TestARestartKeepsTheDataAndThePort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Stop() }()
	dsn, err := s.CreateDatabase(ctx, "restart_test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Psql(ctx, "restart_test", "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if s.ready(ctx) {
		t.Fatal("the server still accepts connections after Shutdown")
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("Shutdown removed the data directory: %v", err)
	}
	if err := s.StartAgain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.DSN("restart_test"); got != dsn {
		t.Errorf("after the restart the DSN is %q, want %q (same port)", got, dsn)
	}
	out, err := s.Psql(ctx, "restart_test", "SELECT v FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if out != "kept" {
		t.Errorf("after the restart the table holds %q, want kept", out)
	}
	if err := s.StartAgain(ctx); err == nil {
		t.Errorf("StartAgain on a running server did not fail")
	}
}

func TestBinPicksTheNewestInstalledVersion(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "13", "16"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		programs := []string{"initdb", "postgres"}
		if v == "16" { // incomplete: not a server
			programs = programs[:1]
		}
		for _, p := range programs {
			if err := os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := binIn(filepath.Join(root, "*", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "15", "bin"); got != want {
		t.Errorf("Bin = %s, want %s", got, want)
	}
}

func TestBinFailsClearlyWhenPostgreSQLIsAbsent(t *testing.T) {
	_, err := binIn(filepath.Join(t.TempDir(), "*", "bin"))
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	for _, want := range []string{"postgresql", "make test-tools"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message %q does not say %q", err, want)
		}
	}
}

func statUID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Uid }

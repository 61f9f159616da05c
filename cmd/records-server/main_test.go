package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnergov/partnergov/test/postgres"
)

// runMainEnv makes the test binary run main() with the arguments after "--":
// the records server as a Deployment's container runs it.
const runMainEnv = "PARTNERGOV_TEST_RUN_RECORDS_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{os.Args[0]}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// records runs the records server's main with args and returns its output and exit code.
func records(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("running the records server %v: %v (it should exit, not serve)\n%s", args, err, out)
		return "", 0
	}
}

// --migrate-only is what the records server's init container runs with the
// schema owner's DSN, so that the serving container never holds it: it
// migrates and exits 0 (needing no --creator-username, serving nothing), and
// exits non-zero, with the error, when it cannot.
func TestMigrateOnlyMigratesAndExits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := postgres.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pg.Stop() }()
	dsn, err := pg.CreateDatabase(ctx, "migrate_only")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(file, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ { // and again, on an up-to-date schema
		if out, code := records(t, "--migrate-only", "--migration-dsn-file="+file); code != 0 {
			t.Fatalf("run %d: --migrate-only exited %d:\n%s", run, code, out)
		}
	}
	if out, err := pg.Psql(ctx, "migrate_only", `SELECT max(version) FROM decision_records_migrations`); err != nil || strings.TrimSpace(out) != "4" {
		t.Errorf("after --migrate-only the schema is at version %q (%v), want 4", strings.TrimSpace(out), err)
	}

	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("postgres://nobody@127.0.0.1:1/none?connect_timeout=2"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := records(t, "--migrate-only", "--migration-dsn-file="+bad)
	if code == 0 || !strings.Contains(out, "cannot migrate the records schema") || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("--migrate-only against no database exited %d:\n%s", code, out)
	}
	if out, code := records(t, "--migrate-only", "--migration-dsn-file="+filepath.Join(t.TempDir(), "missing")); code == 0 || !strings.Contains(out, "reading the database DSN") {
		t.Errorf("--migrate-only with a missing DSN file exited %d:\n%s", code, out)
	}
}

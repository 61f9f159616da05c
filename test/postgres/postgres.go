// Package postgres starts a throwaway PostgreSQL server for tests and `make run`:
// Debian's binaries (package postgresql, /usr/lib/postgresql/<version>/bin, the
// newest version installed), a data directory in a fresh temporary directory, a
// free port on 127.0.0.1 and a unix socket in the same directory. Stop ends the
// server and removes the directory; Shutdown and StartAgain restart it on the
// same data directory and port (the chaos harness restarts the records
// database under load).
//
// initdb refuses to run as root: when the tests run as root, initdb and postgres
// run as the Debian postgres user (or nobody when there is none), and the
// temporary directory is given to that user.
package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Superuser is the database superuser initdb creates; it logs in without a
// password over the socket and 127.0.0.1 (trust authentication).
const Superuser = "partnergov"

// BinPattern is where Debian installs PostgreSQL's server programs.
const BinPattern = "/usr/lib/postgresql/*/bin"

// Server is a running throwaway PostgreSQL.
type Server struct {
	// Dir is the temporary directory holding the data directory, the socket
	// and the server's log.
	Dir string
	// Bin is the directory of the PostgreSQL programs used.
	Bin string
	// Port is the TCP port on 127.0.0.1 (and the socket's number).
	Port int
	// cmd is the running postgres.
	cmd  *exec.Cmd
	done chan error
	cred *syscall.Credential
}

// ErrNotInstalled says the PostgreSQL server programs are missing.
var ErrNotInstalled = errors.New("PostgreSQL is not installed: no " + BinPattern +
	"/initdb; install the Debian package postgresql (`make test-tools` does) and run the tests again")

// Bin returns the newest /usr/lib/postgresql/<version>/bin holding initdb and postgres.
func Bin() (string, error) { return binIn(BinPattern) }

func binIn(pattern string) (string, error) {
	dirs, _ := filepath.Glob(pattern)
	type found struct {
		dir     string
		version []int
	}
	var all []found
	for _, d := range dirs {
		if !executable(filepath.Join(d, "initdb")) || !executable(filepath.Join(d, "postgres")) {
			continue
		}
		all = append(all, found{d, versionOf(filepath.Base(filepath.Dir(d)))})
	}
	if len(all) == 0 {
		return "", ErrNotInstalled
	}
	sort.Slice(all, func(i, j int) bool { return lessVersion(all[j].version, all[i].version) })
	return all[0].dir, nil
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// versionOf parses "15" or "9.6" into its numbers; a name that is no version sorts first.
func versionOf(s string) []int {
	var v []int
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

func lessVersion(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// Start initialises a data directory and starts PostgreSQL on it, and waits
// until it accepts connections.
func Start(ctx context.Context) (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "partnergov-postgres-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Bin: bin, cred: cred}
	if err := s.start(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// unprivileged returns the credential initdb and postgres run with: nil when
// the tests are not root; the postgres user's (else nobody's) when they are.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root, and initdb refuses root: no user postgres or nobody to run PostgreSQL as")
}

func (s *Server) data() string    { return filepath.Join(s.Dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.Dir, "postgres.log") }

// command builds a PostgreSQL program's command running as the unprivileged
// user when there is one; the program dies with the test process.
func (s *Server) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, program), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	return cmd
}

func (s *Server) start(ctx context.Context) error {
	if s.cred != nil {
		if err := os.Chown(s.Dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("giving %s to uid %d for PostgreSQL: %w", s.Dir, s.cred.Uid, err)
		}
	}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return err
	}
	initdb := s.command(ctx, "initdb", "-D", s.data(), "-U", Superuser, "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb in %s: %w\n%s", s.Dir, err, out)
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		err = s.launch(ctx, port, os.O_TRUNC)
		if err == nil {
			return nil
		}
		// Another process may have taken the free port found: try another.
		if attempt >= 3 || !strings.Contains(s.log(), "could not bind") {
			return err
		}
	}
}

// launch starts postgres on the data directory and port, its log opened with
// the flag given (O_TRUNC the first time, O_APPEND after a Shutdown).
func (s *Server) launch(ctx context.Context, port, logFlag int) error {
	s.Port = port
	log, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_WRONLY|logFlag, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = log.Close() }()
	// The server outlives ctx (which only bounds the start): Stop ends it.
	cmd := s.command(context.Background(), "postgres", "-D", s.data(), "-p", strconv.Itoa(port),
		"-k", s.Dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()
	for {
		if s.ready(ctx) {
			return nil
		}
		select {
		case err := <-s.done:
			s.cmd = nil
			return fmt.Errorf("postgres exited before accepting connections (%v); its log:\n%s", err, s.log())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections: %w; its log:\n%s", ctx.Err(), s.log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ready asks pg_isready whether the server accepts connections.
func (s *Server) ready(ctx context.Context) bool {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, "pg_isready"), "-q", "-h", "127.0.0.1",
		"-p", strconv.Itoa(s.Port), "-U", Superuser, "-d", "postgres")
	return cmd.Run() == nil
}

func (s *Server) log() string {
	b, _ := os.ReadFile(s.logFile())
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN returns the connection string of database db as the superuser over TCP.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, s.Port, db)
}

// SocketDSN returns the connection string of database db over the unix socket.
func (s *Server) SocketDSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.Dir, s.Port, Superuser, db)
}

// Psql runs SQL in database db as the superuser and returns its unaligned,
// tuples-only output; an SQL error is an error carrying psql's message.
func (s *Server) Psql(ctx context.Context, db, sql string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", Superuser, "-d", db, "-c", sql)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// CreateDatabase creates an empty database and returns its DSN: one database
// per test keeps tests on one server apart.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if _, err := s.Psql(ctx, "postgres", fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		return "", err
	}
	return s.DSN(name), nil
}

// Shutdown ends the server (a fast shutdown: open connections are closed,
// then a kill after 10 s) and keeps its data directory and port, for
// StartAgain: a database restart, as a failover or an upgrade of the database
// server makes one.
func (s *Server) Shutdown() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		s.cmd = nil
	}
}

// StartAgain starts the server Shutdown ended on the same data directory and
// port, and waits until it accepts connections.
func (s *Server) StartAgain(ctx context.Context) error {
	if s.cmd != nil {
		return errors.New("postgres is running: Shutdown first")
	}
	return s.launch(ctx, s.Port, os.O_APPEND)
}

// Stop ends the server (a fast shutdown, then a kill after 10 s) and removes its directory.
func (s *Server) Stop() error {
	var errs []error
	s.Shutdown()
	if s.Dir != "" {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

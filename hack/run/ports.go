package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// addr is preferred when it is free, else a free port on the same host, so
// that `make run` runs beside another `make run` or anything else on 8080.
// (Another program may take the port between this check and the manager's
// listen; the manager then fails with "address already in use" and a second
// `make run` picks again.)
func addr(preferred string) (string, error) {
	host, _, err := net.SplitHostPort(preferred)
	if err != nil {
		return "", err
	}
	for _, try := range []string{preferred, net.JoinHostPort(host, "0")} {
		l, err := net.Listen("tcp", try)
		if err != nil {
			continue
		}
		a := l.Addr().String()
		if err := l.Close(); err != nil {
			return "", err
		}
		return a, nil
	}
	return "", fmt.Errorf("no free port on %s", host)
}

// runDir is where this `make run` writes its kubeconfig: bin/run for the first
// one, bin/run/<pid> for another running beside it. The first holds an
// exclusive lock on bin/run/lock for as long as it runs; the returned release
// lets it go.
func runDir(root string) (dir string, release func(), err error) {
	base := filepath.Join(root, "bin", "run")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(filepath.Join(base, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		return base, func() { _ = f.Close() }, nil
	}
	_ = f.Close()
	dir = filepath.Join(base, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

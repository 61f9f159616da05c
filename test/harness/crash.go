package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CrashAPIServer kills kube-apiserver with SIGKILL (no graceful shutdown, which
// here takes longer than the manager's 10 s lease renew deadline), waits down,
// and starts it again on the same port with the same certificates; etcd keeps
// running. It returns how long the API server was away.
func (c *Cluster) CrashAPIServer(down time.Duration) (time.Duration, error) {
	api := c.Env.ControlPlane.APIServer
	pid, err := childProcess("kube-apiserver", "--secure-port="+api.SecureServing.Port)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("killing kube-apiserver: %w", err)
	}
	// Reaps the process (it has exited, so this returns at once).
	_ = api.Stop()
	time.Sleep(down)
	if err := api.Start(); err != nil {
		return time.Since(start), fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	return time.Since(start), nil
}

// childProcess finds this process's child running the named binary with arg.
func childProcess(name, arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	me := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != name || !contains(args[1:], arg) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state, ppid, ...
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			if f := strings.Fields(string(stat)[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(me) {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no child process %s %s", name, arg)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

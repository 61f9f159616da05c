package harness

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Daemon is a program the harness runs besides the managers (the records
// server, the namespace controller), its output appended to Log; it can be
// killed and started again with the same flags.
type Daemon struct {
	Name string
	Log  string

	bin  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// newDaemon prepares a program; Start runs it.
func newDaemon(name, bin, log string, args ...string) *Daemon {
	return &Daemon{Name: name, Log: log, bin: bin, args: args}
}

// Start starts the process (again, after it exited or was killed).
func (p *Daemon) Start() error {
	if p.Running() {
		return fmt.Errorf("%s is still running", p.Name)
	}
	log, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.done = done
	cmd := p.cmd
	go func() {
		err := cmd.Wait()
		log.Close()
		p.err = err
		close(done)
	}()
	return nil
}

// Running tells whether the process is alive.
func (p *Daemon) Running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited is closed when the process started last has exited.
func (p *Daemon) Exited() <-chan struct{} { return p.done }

// Kill sends SIGKILL and waits for the process to end.
func (p *Daemon) Kill() { p.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits (a kill after 30 s).
func (p *Daemon) Stop() { p.signal(syscall.SIGTERM) }

func (p *Daemon) signal(sig syscall.Signal) {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// BuildManager builds main.go into bin/partnergov-manager under the repository root.
func BuildManager(ctx context.Context, root string) (string, error) {
	bin := filepath.Join(root, "bin", "partnergov-manager")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the manager: %w\n%s", err, out)
	}
	return bin, nil
}

// SetManagerBinary sets the manager binary StartManager runs.
func (c *Cluster) SetManagerBinary(path string) { c.bin = path }

// Manager is a manager process.
type Manager struct {
	Name        string
	MetricsAddr string
	HealthAddr  string
	WebhookAddr string
	Log         string

	cluster *Cluster
	cmd     *exec.Cmd
	done    chan struct{}
	// webhookPort is WebhookAddr's port.
	webhookPort int
	err         error
	args        []string
	env         []string
}

// ManagerOptions are the flags the harness sets beyond the addresses.
type ManagerOptions struct {
	QPS                     float32
	Burst                   int
	MaxConcurrentReconciles int
	// SyncPeriod of the cache; 0 keeps the default.
	SyncPeriod time.Duration
	// Args are further flags.
	Args []string
	// Env are further environment variables (NAME=value) of the process.
	Env []string
}

// StartManager starts a manager process with leader election, registers its
// webhook server with the front and waits until it serves.
func (c *Cluster) StartManager(ctx context.Context, name string, o ManagerOptions) (*Manager, error) {
	if c.bin == "" {
		return nil, errors.New("no manager binary: call SetManagerBinary")
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		Name:        name,
		MetricsAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		HealthAddr:  fmt.Sprintf("127.0.0.1:%d", ports[1]),
		WebhookAddr: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		Log:         filepath.Join(c.Dir, name+".log"),
		cluster:     c,
	}
	m.webhookPort = ports[2]
	m.args, m.env = c.managerArgs(m, o), o.Env
	return m, m.start(ctx)
}

// RestartWith starts the stopped process again with other options (same addresses).
func (m *Manager) RestartWith(ctx context.Context, o ManagerOptions) error {
	m.args, m.env = m.cluster.managerArgs(m, o), o.Env
	return m.Restart(ctx)
}

func (c *Cluster) managerArgs(m *Manager, o ManagerOptions) []string {
	args := []string{
		"--kubeconfig=" + c.ManagerKubeconfig,
		"--metrics-bind-address=" + m.MetricsAddr,
		"--health-probe-bind-address=" + m.HealthAddr,
		"--webhook-port=" + strconv.Itoa(m.webhookPort),
		"--webhook-cert-dir=" + c.Env.WebhookInstallOptions.LocalServingCertDir,
		"--leader-elect", "--leader-election-namespace=" + SystemNamespace,
	}
	if o.QPS > 0 {
		args = append(args, fmt.Sprintf("--kube-api-qps=%g", o.QPS))
	}
	if o.Burst > 0 {
		args = append(args, fmt.Sprintf("--kube-api-burst=%d", o.Burst))
	}
	if o.MaxConcurrentReconciles > 0 {
		args = append(args, fmt.Sprintf("--max-concurrent-reconciles=%d", o.MaxConcurrentReconciles))
	}
	if o.SyncPeriod > 0 {
		args = append(args, "--sync-period="+o.SyncPeriod.String())
	}
	return append(args, o.Args...)
}

func (m *Manager) start(ctx context.Context) error {
	log, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	m.cmd = exec.Command(m.cluster.bin, m.args...)
	m.cmd.Env = append(os.Environ(), m.env...)
	m.cmd.Stdout, m.cmd.Stderr = log, log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		log.Close()
		return err
	}
	m.done = make(chan struct{})
	go func() {
		m.err = m.cmd.Wait()
		log.Close()
		close(m.done)
	}()
	m.cluster.front.add(m.WebhookAddr)
	return m.waitReady(ctx)
}

// waitReady waits until the webhook server answers (readyz).
func (m *Manager) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return fmt.Errorf("manager %s exited: %v (log %s)", m.Name, m.err, m.Log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + m.HealthAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("manager %s not ready after 60s (log %s)", m.Name, m.Log)
}

// Restart starts the process again with the same flags and addresses.
func (m *Manager) Restart(ctx context.Context) error {
	if m.Running() {
		return fmt.Errorf("manager %s is still running", m.Name)
	}
	return m.start(ctx)
}

// Running tells whether the process is alive.
func (m *Manager) Running() bool {
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (m *Manager) Kill() { m.signal(syscall.SIGKILL) }

// Stop sends SIGTERM (a graceful stop that releases the lease) and waits.
func (m *Manager) Stop() { m.signal(syscall.SIGTERM) }

func (m *Manager) signal(sig syscall.Signal) {
	if !m.Running() {
		return
	}
	m.cluster.front.remove(m.WebhookAddr)
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// PeakRSS is the process's peak resident set size (VmHWM) in bytes.
func (m *Manager) PeakRSS() (int64, error) {
	p, err := m.Process()
	return p.PeakRSS, err
}

// Process is what /proc tells of a manager process.
type Process struct {
	// RSS is the resident set size now (VmRSS), PeakRSS its peak (VmHWM), in bytes.
	RSS, PeakRSS int64
	// OpenFDs are the process's open file descriptors (entries of /proc/PID/fd).
	OpenFDs int
}

// Process reads the running process's memory and open file descriptors from /proc.
func (m *Manager) Process() (Process, error) {
	var p Process
	if !m.Running() {
		return p, errors.New("not running")
	}
	pid := m.cmd.Process.Pid
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS:": &p.RSS, "VmHWM:": &p.PeakRSS}
	found := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		for prefix, v := range fields {
			if rest, ok := strings.CutPrefix(s.Text(), prefix); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					return p, fmt.Errorf("/proc/%d/status %s %w", pid, prefix, err)
				}
				*v = kb * 1024
				found++
			}
		}
	}
	if found != len(fields) {
		return p, fmt.Errorf("no VmRSS or VmHWM in /proc/%d/status", pid)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return p, err
	}
	p.OpenFDs = len(fds)
	return p, nil
}

// SaveMetrics writes the manager's raw metrics to path, for a reader to dig into.
func (m *Manager) SaveMetrics(path string) error {
	resp, err := http.Get("http://" + m.MetricsAddr + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Metrics scrapes the manager's Prometheus metrics.
func (m *Manager) Metrics() (Metrics, error) {
	resp, err := http.Get("http://" + m.MetricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	return Metrics(fams), err
}

// Metrics are scraped metric families by name.
type Metrics map[string]*dto.MetricFamily

// Sum adds the values of a counter or gauge family's series whose labels match
// the filter (nil matches all).
func (ms Metrics) Sum(name string, match func(labels map[string]string) bool) float64 {
	fam, ok := ms[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if match != nil && !match(labels) {
			continue
		}
		sum += value(m)
	}
	return sum
}

// value is a counter's, gauge's or untyped series' value (0 for other types).
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// Buckets is a histogram family's cumulative counts by upper bound, every
// series summed; +Inf holds the sample count.
func (ms Metrics) Buckets(name string) map[float64]float64 {
	out := map[float64]float64{}
	fam, ok := ms[name]
	if !ok {
		return out
	}
	for _, m := range fam.GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		for _, b := range h.GetBucket() {
			out[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
		out[math.Inf(1)] += float64(h.GetSampleCount())
	}
	return out
}

// SumBy adds a counter or gauge family's values by the value of one label
// (series without it count under "").
func (ms Metrics) SumBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	fam, ok := ms[name]
	if !ok {
		return out
	}
	for _, m := range fam.GetMetric() {
		key := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				key = l.GetValue()
			}
		}
		out[key] += value(m)
	}
	return out
}

// Writes are the manager's mutating requests, from partnergov_api_writes_total.
type Writes struct {
	// Objects are writes of objects and their status (partnergov's kinds,
	// ServiceAccounts, Roles, RoleBindings).
	Objects float64
	// Events are events recorded.
	Events float64
	// Leases are leader-election renewals.
	Leases float64
	// ByResource are all of them by "verb resource".
	ByResource map[string]float64
}

// notWrites are POSTs that ask rather than change: reviews and token requests.
var notWrites = map[string]bool{"subjectaccessreviews": true, "selfsubjectreviews": true, "tokenreviews": true, "serviceaccounts/token": true}

// Writes reads the write counters.
func (ms Metrics) Writes() Writes {
	w := Writes{ByResource: map[string]float64{}}
	fam, ok := ms["partnergov_api_writes_total"]
	if !ok {
		return w
	}
	for _, m := range fam.GetMetric() {
		var resource, verb string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "resource":
				resource = l.GetValue()
			case "verb":
				verb = l.GetValue()
			}
		}
		v := m.GetCounter().GetValue()
		w.ByResource[verb+" "+resource] += v
		switch {
		case notWrites[resource]:
		case resource == "events":
			w.Events += v
		case resource == "leases":
			w.Leases += v
		default:
			w.Objects += v
		}
	}
	return w
}

// Sub is w - before.
func (w Writes) Sub(before Writes) Writes {
	by := map[string]float64{}
	for k, v := range w.ByResource {
		if d := v - before.ByResource[k]; d != 0 {
			by[k] = d
		}
	}
	return Writes{Objects: w.Objects - before.Objects, Events: w.Events - before.Events, Leases: w.Leases - before.Leases, ByResource: by}
}

// freePorts reserves n free local ports (closed again before returning).
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// HeapSampler samples a manager's heap in use and keeps the peak.
type HeapSampler struct {
	mu   sync.Mutex
	peak float64
	stop chan struct{}
}

// SampleHeap samples go_memstats_heap_inuse_bytes every interval until Stop.
func (m *Manager) SampleHeap(interval time.Duration) *HeapSampler {
	h := &HeapSampler{stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
			ms, err := m.Metrics()
			if err != nil {
				continue
			}
			v := ms.Sum("go_memstats_heap_inuse_bytes", nil)
			h.mu.Lock()
			h.peak = max(h.peak, v)
			h.mu.Unlock()
		}
	}()
	return h
}

// Stop stops sampling and returns the peak in bytes.
func (h *HeapSampler) Stop() float64 {
	close(h.stop)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}

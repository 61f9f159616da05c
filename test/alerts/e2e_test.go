package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/harness"
)

// TestARealPrometheusFiresTheSLAAlertOfARealManager runs the manager as its own
// process (the harness: main.go built, leader election on, a local control
// plane), a real Prometheus scraping its metrics every second and evaluating
// config/prometheus/partnergov.rules.yaml as it ships, then files a request
// whose review stage has a 10-second SLA. The SLA alert must not fire before the
// stage's deadline, and must fire after it with the request's routing labels;
// the escalation owner's alert fires with it. The operations alerts must select
// the manager's own controllers and webhooks, and no-leader must stay silent.
func TestARealPrometheusFiresTheSLAAlertOfARealManager(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	root := repoRoot(t)
	promBin := tool(t, "prometheus")
	dir := t.TempDir()

	cluster, err := harness.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	bin, err := harness.BuildManager(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	cluster.SetManagerBinary(bin)
	m, err := cluster.StartManager(ctx, "manager", harness.ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	prom := startPrometheus(t, promBin, dir, m.MetricsAddr, filepath.Join(root, rulesPath))

	// A program, a partner and a review path whose one stage has a 10s SLA and
	// escalates to the path's escalation owner.
	ns := "alerts"
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "alerts"}, Spec: v1alpha1.PartnerProgramSpec{
		Owner: "program-owner@example.com",
		Metrics: []v1alpha1.MetricDefinition{{Name: "revenue", Class: v1alpha1.MetricClassOutcome, Unit: "USD",
			FreshnessWindow:  metav1.Duration{Duration: 90 * 24 * time.Hour},
			TrustedReporters: v1alpha1.Identities{Groups: []string{"partnergov:crm"}}}},
	}}
	partner := &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"}, Spec: v1alpha1.PartnerSpec{
		Program: program.Name, Type: v1alpha1.PartnerTypeGSI, Owner: "jordan.lee@example.com",
	}}
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: "claims"}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo: v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestReadinessClaim}},
		Stages: []v1alpha1.ReviewStage{{Name: "program-office", Quorum: 1, SLA: metav1.Duration{Duration: 10 * time.Second},
			OnTimeout: v1alpha1.TimeoutEscalate}},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	request := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-sync-certification"},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type: v1alpha1.RequestReadinessClaim, Partner: partner.Name, ReviewPath: path.Name,
			Justification: "the certification report is attached to the partner's record",
			Grant:         &v1alpha1.Grant{Claim: &v1alpha1.ClaimGrant{Kind: v1alpha1.ReadinessClaimCertification, Product: "sync"}},
		}}
	for _, obj := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, program, partner, path, request} {
		g.Expect(cluster.Admin.Create(ctx, obj)).To(Succeed())
	}

	// Under review: Prometheus scrapes the pending request, and the rules are
	// evaluated after that scrape, while the stage's deadline is still ahead.
	var deadline time.Time
	g.Eventually(func(g Gomega) {
		var got v1alpha1.ExceptionRequest
		g.Expect(cluster.Admin.Get(ctx, client.ObjectKeyFromObject(request), &got)).To(Succeed())
		g.Expect(got.Status.StageDeadline).NotTo(BeNil())
		deadline = got.Status.StageDeadline.Time
	}).WithTimeout(30 * time.Second).Should(Succeed())
	var scraped time.Time
	g.Eventually(func(g Gomega) {
		g.Expect(prom.query(g, `partnergov_requests_pending{type="ReadinessClaim",stage="program-office"}`)).NotTo(BeEmpty())
		scraped = time.Now()
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(prom.lastEvaluation(g, "partnergov-governance")).To(BeTemporally(">", scraped))
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	if before := prom.alerts(g, "PartnergovReviewSLABreached"); time.Now().Before(deadline) {
		g.Expect(before).To(BeEmpty(), "the SLA alert is active before the stage's deadline %s", deadline)
	} else {
		t.Logf("the deadline %s passed before the check without the SLA alert could be made; only its firing is checked", deadline)
	}

	// The stage's SLA passes: the controller escalates, the gauge appears, the alerts fire.
	routing := map[string]string{
		"program": program.Name, "partner_namespace": ns, "partner": partner.Name, "owner": partner.Spec.Owner,
		"request": request.Name, "type": string(v1alpha1.RequestReadinessClaim), "path": path.Name,
		"escalation_owner": path.Spec.EscalationOwner, "severity": "warning",
	}
	want := func(alertname string, extra map[string]string) map[string]string {
		l := map[string]string{"alertname": alertname}
		for k, v := range routing {
			l[k] = v
		}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	g.Eventually(func(g Gomega) {
		breached := prom.alerts(g, "PartnergovReviewSLABreached")
		g.Expect(breached).To(ConsistOf(And(
			HaveField("State", "firing"),
			HaveField("Labels", want("PartnergovReviewSLABreached", map[string]string{"stage": "escalation"})),
			HaveField("ActiveAt", BeTemporally(">=", deadline)))))
		g.Expect(breached[0].Annotations["summary"]).To(Equal(
			"ReadinessClaim request alerts/acme-sync-certification passed the SLA of a review stage"))
		g.Expect(prom.alerts(g, "PartnergovRequestEscalatedToOwner")).To(ConsistOf(And(
			HaveField("State", "firing"),
			HaveField("Labels", want("PartnergovRequestEscalatedToOwner", map[string]string{"reason": v1alpha1.ReasonSLABreached})))))
	}).WithTimeout(60 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

	// The manager leads: no-leader is not even pending.
	g.Expect(prom.query(g, `leader_election_master_status{name="partnergov.governance.partnergov.io"} == 1`)).NotTo(BeEmpty())
	g.Expect(prom.alerts(g, "PartnergovNoLeader")).To(BeEmpty())

	// The operations alerts select this manager's controllers and webhooks, all
	// of them, by name.
	metrics, err := m.Metrics()
	g.Expect(err).NotTo(HaveOccurred())
	for metric, label := range map[string]string{
		"controller_runtime_reconcile_errors_total":  "controller",
		"controller_runtime_webhook_latency_seconds": "webhook",
	} {
		matcher := ruleMatcher(t, metric, label)
		fam := metrics[metric]
		g.Expect(fam).NotTo(BeNil(), "the manager exports no %s", metric)
		var values []string
		for _, s := range fam.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label {
					values = append(values, l.GetValue())
				}
			}
		}
		g.Expect(values).NotTo(BeEmpty())
		for _, v := range values {
			g.Expect(matcher.MatchString(v)).To(BeTrue(), "the rules' %s matcher %q misses the manager's %s %q", label, matcher, label, v)
		}
	}
}

// ruleMatcher returns, anchored as Prometheus anchors it, the regular
// expression with which an alert of the rules file selects label of metric.
func ruleMatcher(t *testing.T, metric, label string) *regexp.Regexp {
	t.Helper()
	for _, rules := range alerts(t) {
		for _, r := range rules {
			for _, sel := range selectors(t, r.Expr) {
				if sel.name != metric && sel.name != metric+"_bucket" {
					continue
				}
				if re, ok := sel.regexps[label]; ok {
					return regexp.MustCompile("^(?:" + re + ")$")
				}
			}
		}
	}
	t.Fatalf("no alert selects %s by %s", metric, label)
	return nil
}

// prometheus is a Prometheus server the test started.
type prometheus struct {
	url string
	t   *testing.T
}

// startPrometheus starts the prometheus binary with a temporary data
// directory, scraping target every second and evaluating rules every second;
// it is stopped when the test ends.
func startPrometheus(t *testing.T, bin, dir, target, rules string) *prometheus {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	config := filepath.Join(dir, "prometheus.yml")
	g := NewWithT(t)
	g.Expect(os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
- %s
scrape_configs:
- job_name: partnergov
  static_configs:
  - targets: [%q]
`, rules, target), 0o644)).To(Succeed())
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	p := &prometheus{url: "http://" + addr, t: t}
	g.Eventually(func(g Gomega) {
		select {
		case <-done:
			b, _ := os.ReadFile(log.Name())
			g.Expect(false).To(BeTrue(), "prometheus exited:\n%s", b)
		default:
		}
		resp, err := http.Get(p.url + "/-/ready")
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	return p
}

// get decodes the data of a Prometheus API response.
func (p *prometheus) get(g Gomega, path string, data any) {
	resp, err := http.Get(p.url + path)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	g.Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
	g.Expect(body.Status).To(Equal("success"), "%s: %s", path, body.Error)
	g.Expect(json.Unmarshal(body.Data, data)).To(Succeed())
}

// query returns the label sets of an instant query's result.
func (p *prometheus) query(g Gomega, q string) []map[string]string {
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	p.get(g, "/api/v1/query?query="+url.QueryEscape(q), &data)
	var out []map[string]string
	for _, r := range data.Result {
		out = append(out, r.Metric)
	}
	return out
}

// alert is an active (pending or firing) alert.
type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
}

// alerts returns the active alerts of the given name.
func (p *prometheus) alerts(g Gomega, name string) []alert {
	var data struct {
		Alerts []alert `json:"alerts"`
	}
	p.get(g, "/api/v1/alerts", &data)
	var out []alert
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == name {
			out = append(out, a)
		}
	}
	return out
}

// lastEvaluation is when Prometheus last evaluated the rule group.
func (p *prometheus) lastEvaluation(g Gomega, group string) time.Time {
	var data struct {
		Groups []struct {
			Name           string    `json:"name"`
			LastEvaluation time.Time `json:"lastEvaluation"`
		} `json:"groups"`
	}
	p.get(g, "/api/v1/rules", &data)
	g.Expect(data.Groups).To(ContainElement(HaveField("Name", group)), "prometheus has no rule group %s", group)
	for _, gr := range data.Groups {
		if gr.Name == group {
			return gr.LastEvaluation
		}
	}
	return time.Time{}
}

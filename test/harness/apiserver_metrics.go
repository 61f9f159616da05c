package harness

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
)

// APIServerMetrics scrapes the API server's /metrics as the admin.
func (c *Cluster) APIServerMetrics(ctx context.Context) (Metrics, error) {
	cs, err := kubernetes.NewForConfig(Unlimited(c.Env.Config))
	if err != nil {
		return nil, err
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	return Metrics(fams), err
}

// SaveAPIServerMetrics writes the API server's /metrics text to path, for
// reading after a run (request durations by resource and verb, admission
// webhook durations, priority-and-fairness waits).
func (c *Cluster) SaveAPIServerMetrics(ctx context.Context, path string) error {
	cs, err := kubernetes.NewForConfig(Unlimited(c.Env.Config))
	if err != nil {
		return err
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// SaveAPIServerProfile saves a CPU profile of kube-apiserver over the given
// number of seconds (its /debug/pprof, on by default) to path.
func (c *Cluster) SaveAPIServerProfile(ctx context.Context, seconds int, path string) error {
	cs, err := kubernetes.NewForConfig(Unlimited(c.Env.Config))
	if err != nil {
		return err
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", strconv.Itoa(seconds)).Timeout(time.Duration(seconds+30) * time.Second).DoRaw(ctx)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

package harness

import (
	"bytes"
	"context"

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

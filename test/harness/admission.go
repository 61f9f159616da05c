package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	pgwebhook "github.com/partnergov/partnergov/internal/webhook"
)

// AdmissionLoad sends the partners/status webhook the AdmissionReview the API
// server sends when the reporter updates a partner's evidence, at rate per second
// for d, straight to one manager's webhook server, and returns the sorted
// round-trip latencies and how many were refused or failed.
func (c *Cluster) AdmissionLoad(ctx context.Context, m *Manager, partner *v1alpha1.Partner, rate int, d time.Duration) ([]time.Duration, int, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.Env.WebhookInstallOptions.LocalServingCAData) {
		return nil, 0, fmt.Errorf("no webhook CA")
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64,
	}}
	url := "https://" + m.WebhookAddr + pgwebhook.PartnerStatusPath
	old, err := json.Marshal(partner)
	if err != nil {
		return nil, 0, err
	}
	review := func(i int) ([]byte, error) {
		p := partner.DeepCopy()
		for j := range p.Status.Evidence {
			if p.Status.Evidence[j].Metric == "training" {
				p.Status.Evidence[j].Value = v1alpha1.Decimal(strconv.Itoa(100000 + i))
			}
		}
		obj, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		gvk := metav1.GroupVersionKind{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Kind: "Partner"}
		gvr := metav1.GroupVersionResource{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Resource: "partners"}
		return json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID: types.UID(fmt.Sprintf("bench-%d", i)), Kind: gvk, Resource: gvr, SubResource: "status",
				RequestKind: &gvk, RequestResource: &gvr, RequestSubResource: "status",
				Name: p.Name, Namespace: p.Namespace, Operation: admissionv1.Update,
				UserInfo: authenticationv1.UserInfo{Username: Reporter, Groups: []string{ReporterGroup, "system:authenticated"}},
				Object:   runtime.RawExtension{Raw: obj}, OldObject: runtime.RawExtension{Raw: old},
			},
		})
	}
	total := int(float64(rate) * d.Seconds())
	bodies := make([][]byte, total)
	for i := range bodies {
		if bodies[i], err = review(i); err != nil {
			return nil, 0, err
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	refused := 0
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 0; i < total; i++ {
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-tick.C:
		}
		wg.Add(1)
		go func(body []byte) {
			defer wg.Done()
			start := time.Now()
			ok := post(hc, url, body)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, took)
			if !ok {
				refused++
			}
		}(bodies[i])
	}
	wg.Wait()
	sortDurations(lat)
	return lat, refused, nil
}

func post(hc *http.Client, url string, body []byte) bool {
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	var out admissionv1.AdmissionReview
	return json.Unmarshal(b, &out) == nil && out.Response != nil && out.Response.Allowed
}

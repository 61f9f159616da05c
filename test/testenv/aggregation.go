package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FrontProxyClient is the name kube-apiserver's aggregator authenticates as
// to aggregated API servers (the front-proxy client certificate's CN).
const FrontProxyClient = "front-proxy-client"

// AggregationArgs writes a front-proxy CA and the aggregator's client
// certificate into dir and returns the kube-apiserver flags that enable API
// aggregation with them (StartOptions.APIServerArgs): the aggregator proxies to
// an APIService's endpoints directly (no kube-proxy on the test control plane).
func AggregationArgs(dir string) (map[string][]string, error) {
	ca, caKey, caPEM, err := newCA("partnergov-test-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := NewCert(ca, caKey, FrontProxyClient, nil, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"front-proxy-ca.crt": caPEM, "front-proxy-client.crt": certPEM, "front-proxy-client.key": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return map[string][]string{
		"requestheader-client-ca-file":       {filepath.Join(dir, "front-proxy-ca.crt")},
		"requestheader-allowed-names":        {FrontProxyClient},
		"requestheader-extra-headers-prefix": {"X-Remote-Extra-"},
		"requestheader-group-headers":        {"X-Remote-Group"},
		"requestheader-username-headers":     {"X-Remote-User"},
		"proxy-client-cert-file":             {filepath.Join(dir, "front-proxy-client.crt")},
		"proxy-client-key-file":              {filepath.Join(dir, "front-proxy-client.key")},
		"enable-aggregator-routing":          {"true"},
	}, nil
}

// ServingCert is a serving certificate for an aggregated API server on the
// test control plane, and the CA bundle its APIService carries.
type ServingCert struct {
	CertFile, KeyFile string
	CABundle          []byte
}

// NewServingCert writes into dir a CA and a serving certificate for the
// Service namespace/name (its in-cluster DNS names, which the aggregator
// verifies), 127.0.0.1 and ip.
func NewServingCert(dir, namespace, name string, ip net.IP) (*ServingCert, error) {
	ca, caKey, caPEM, err := newCA("partnergov-test-serving-ca")
	if err != nil {
		return nil, err
	}
	dns := []string{name + "." + namespace + ".svc", name + "." + namespace + ".svc.cluster.local", "localhost"}
	certPEM, keyPEM, err := NewCert(ca, caKey, name+"."+namespace+".svc", dns, []net.IP{net.ParseIP("127.0.0.1"), ip}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	s := &ServingCert{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key"), CABundle: caPEM}
	if err := os.WriteFile(s.CertFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	return s, os.WriteFile(s.KeyFile, keyPEM, 0o600)
}

func newCA(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// NewCert issues a certificate from ca for cn with the given names and usage,
// and returns it and its key in PEM.
func NewCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, dns []string, ips []net.IP, usage x509.ExtKeyUsage) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: dns, IPAddresses: ips,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// HostIP is an address of this machine an aggregated API server can listen
// on for the test control plane: the aggregator routes to an endpoint's
// address, and an EndpointSlice may not hold a loopback address.
func HostIP() (net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.To4(), nil
		}
	}
	return nil, errors.New("this machine has no IPv4 address but loopback ones, and an EndpointSlice (through which the " +
		"test control plane routes to an aggregated API server) may not hold a loopback address")
}

// AggregatedAPI is an aggregated API server running on this machine that
// the test control plane routes a group version to.
type AggregatedAPI struct {
	Group, Version string
	// Namespace and Service name the Service the APIService points at.
	Namespace, Service string
	// Host and Port are where the server listens (Host from HostIP).
	Host net.IP
	Port int
	// CABundle verifies the server's serving certificate.
	CABundle []byte
}

// autoRegisterManagedLabel marks an APIService kube-apiserver registered itself (for a CRD's group).
const autoRegisterManagedLabel = "kube-aggregator.kubernetes.io/automanaged"

// RegisterAggregatedAPI routes a.Group/a.Version to a server listening on
// a.Host:a.Port: a Namespace, a Service without selector, an EndpointSlice
// with that address (the aggregator routes to endpoints) and the APIService.
// It waits until the aggregator reports the APIService Available and serves
// its OpenAPI (which kubectl explain reads).
func (e *Env) RegisterAggregatedAPI(ctx context.Context, a AggregatedAPI) error {
	c, err := client.New(e.Config, client.Options{})
	if err != nil {
		return err
	}
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": a.Namespace}}},
		{Object: map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": a.Service, "namespace": a.Namespace},
			"spec": map[string]any{"ports": []any{map[string]any{
				"name": "https", "port": int64(443), "targetPort": int64(a.Port), "protocol": "TCP"}}},
		}},
		{Object: map[string]any{
			"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
			"metadata": map[string]any{"name": a.Service, "namespace": a.Namespace,
				"labels": map[string]any{"kubernetes.io/service-name": a.Service}},
			"addressType": "IPv4",
			"endpoints":   []any{map[string]any{"addresses": []any{a.Host.String()}, "conditions": map[string]any{"ready": true}}},
			"ports":       []any{map[string]any{"name": "https", "port": int64(a.Port), "protocol": "TCP"}},
		}},
		{Object: map[string]any{
			"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
			"metadata": map[string]any{"name": a.Version + "." + a.Group},
			"spec": map[string]any{
				"group": a.Group, "version": a.Version,
				"service":              map[string]any{"namespace": a.Namespace, "name": a.Service, "port": int64(443)},
				"caBundle":             base64.StdEncoding.EncodeToString(a.CABundle),
				"groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
			},
		}},
	}
	if err := Apply(ctx, c, "partnergov-testenv", objs); err != nil {
		return err
	}
	name := a.Version + "." + a.Group
	// When a CRD of the group is installed too, kube-apiserver registered the
	// APIService as its own (automanaged) and would set it back: taking the
	// label away leaves the APIService to us, as reports-server does.
	svc := objs[len(objs)-1]
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"labels": map[string]any{autoRegisterManagedLabel: nil}},
		"spec":     svc.Object["spec"],
	})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, svc.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("taking APIService %s over from kube-apiserver: %w", name, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		svc := &unstructured.Unstructured{}
		svc.SetAPIVersion("apiregistration.k8s.io/v1")
		svc.SetKind("APIService")
		if err := c.Get(ctx, client.ObjectKey{Name: name}, svc); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(svc.Object, "status", "conditions")
		last := ""
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Available" {
				if m["status"] == "True" {
					return e.waitOpenAPI(ctx, a)
				}
				last = fmt.Sprintf("%v: %v", m["reason"], m["message"])
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("APIService %s did not become Available within a minute (%s); the server listens on %s?", name, last, net.JoinHostPort(a.Host.String(), strconv.Itoa(a.Port)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitOpenAPI waits until the aggregator has fetched the OpenAPI v3 of a's group version.
func (e *Env) waitOpenAPI(ctx context.Context, a AggregatedAPI) error {
	kc, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	path := "apis/" + a.Group + "/" + a.Version
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := kc.Discovery().RESTClient().Get().AbsPath("/openapi/v3").DoRaw(ctx)
		if err == nil && strings.Contains(string(b), `"`+path+`"`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the aggregator does not serve the OpenAPI of %s within a minute (%v)", path, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

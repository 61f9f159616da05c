package controllers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// TestOnlyTheLeaderReportsGovernanceGauges: two replicas share the same objects
// in their caches, so a follower reporting partner counts or scorecard gauges
// would double every sum across replicas.
func TestOnlyTheLeaderReportsGovernanceGauges(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "acme"}, Spec: v1alpha1.PartnerSpec{Program: "global"},
			Status: v1alpha1.PartnerStatus{Tier: "select"}},
	).Build()
	elected := make(chan struct{})
	c := &partnerCollector{reader: reader, elected: elected}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("a follower reported %d series, want none", n)
	}
	close(elected)
	if n := testutil.CollectAndCount(c, "partnergov_partners"); n != 1 {
		t.Errorf("the leader reported %d partnergov_partners series, want 1", n)
	}
}

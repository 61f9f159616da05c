package controllers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
)

// TestOnlyTheLeaderReportsGovernanceGauges: two replicas see the same objects,
// so a follower reporting partner counts or scorecard gauges would double every
// sum across replicas. The collector reads the real API server here.
func TestOnlyTheLeaderReportsGovernanceGauges(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)
	onlyThisProgram := client.MatchingFields{"spec.program": program.Name}
	reader := programReader{Reader: admin, opts: onlyThisProgram}

	elected := make(chan struct{})
	c := controllers.NewGovernanceCollector(reader, elected)
	g.Expect(testutil.CollectAndCount(c)).To(BeZero(), "a follower reports nothing")
	close(elected)
	g.Expect(testutil.CollectAndCount(c, "partnergov_partners")).To(Equal(1), "the leader reports the partner of %s", p.Name)
}

// programReader lists partners of one program only, so the count is the test's own.
type programReader struct {
	client.Reader
	opts client.ListOption
}

func (r programReader) List(ctx2 context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*v1alpha1.PartnerList); ok {
		opts = append(opts, r.opts)
	}
	return r.Reader.List(ctx2, list, opts...)
}

package guard

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func listing(usage *v1alpha1.ListingUsage, published bool) *v1alpha1.Listing {
	l := &v1alpha1.Listing{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "sync"},
		Spec:       v1alpha1.ListingSpec{Partner: "nimbus"},
		Status:     v1alpha1.ListingStatus{Usage: usage},
	}
	if published {
		l.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionPublished, Status: metav1.ConditionTrue}}
	}
	return l
}

func TestListingStatus(t *testing.T) {
	own := "system:serviceaccount:partners:nimbus-integration"
	usage := &v1alpha1.ListingUsage{Views: 10, Installs: 2, Source: "forged"}
	market := &v1alpha1.PartnerProgram{Spec: v1alpha1.PartnerProgramSpec{MarketplaceReporters: v1alpha1.Identities{Groups: []string{"marketplace"}}}}
	tests := map[string]struct {
		old, new   *v1alpha1.Listing
		program    *v1alpha1.PartnerProgram
		writer     Writer
		wantRefuse string
	}{
		"the partner's own integration reports usage":  {new: listing(usage, false), writer: Writer{Username: own}},
		"a trusted marketplace identity reports usage": {new: listing(usage, false), program: market, writer: Writer{Username: "store", Groups: []string{"marketplace"}}},
		"another partner's integration is refused": {new: listing(usage, false), program: market,
			writer: Writer{Username: "system:serviceaccount:partners:acme-integration"}, wantRefuse: "only partner nimbus's integration"},
		"an integration cannot publish its listing": {new: listing(nil, true), writer: Writer{Username: own}, wantRefuse: "may not change status.conditions"},
		"the controller cannot report usage":        {new: listing(usage, false), writer: Writer{Username: ctrlr, Controller: true}, wantRefuse: "does not report listing usage"},
		"the controller publishes":                  {new: listing(nil, true), writer: Writer{Username: ctrlr, Controller: true}},
		"an untrusted identity cannot remove usage": {old: listing(usage, false), new: listing(nil, false),
			writer: Writer{Username: "growth-hacker"}, wantRefuse: "may not report usage"},
		"a faked spec.partner does not make another integration the owner": {new: withPartner(listing(usage, false), "acme"),
			writer: Writer{Username: "system:serviceaccount:partners:acme-integration"}, wantRefuse: "only partner nimbus's integration"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old := tc.old
			if old == nil {
				old = listing(nil, false)
			}
			got, refusal := ListingStatus(old, tc.new, tc.program, tc.writer)
			if tc.wantRefuse != "" {
				if refusal == nil || !strings.Contains(refusal.Message, tc.wantRefuse) {
					t.Fatalf("refusal = %v, want %q", refusal, tc.wantRefuse)
				}
				return
			}
			if refusal != nil {
				t.Fatal(refusal)
			}
			if got.Usage != nil && got.Usage.Source != tc.writer.Username {
				t.Fatalf("usage source %q, want %q", got.Usage.Source, tc.writer.Username)
			}
		})
	}
}

func withPartner(l *v1alpha1.Listing, partner string) *v1alpha1.Listing {
	l.Spec.Partner = partner
	return l
}

package deal

import (
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestBothSidesOfADealConflictAreParties(t *testing.T) {
	registered := func(by string) *v1alpha1.DealRegistration {
		d := &v1alpha1.DealRegistration{}
		if by != "" {
			d.Spec.Registrant = &v1alpha1.UserInfo{Username: by}
		}
		return d
	}
	tests := map[string]struct {
		holder *v1alpha1.DealRegistration
		owner  string
		want   []string
	}{
		"the holder's registrant and relationship owner": {holder: registered("seller@holder.example"), owner: "owner@example.com",
			want: []string{"owner@example.com", "seller@holder.example"}},
		"a registrant who owns the partner is listed once": {holder: registered("owner@example.com"), owner: "owner@example.com",
			want: []string{"owner@example.com"}},
		"a holder partner without an owner":        {holder: registered("seller@holder.example"), want: []string{"seller@holder.example"}},
		"a registration stored without registrant": {holder: registered(""), owner: "owner@example.com", want: []string{"owner@example.com"}},
		"the direct team has no parties here":      {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ConflictParties(tc.holder, tc.owner); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("ConflictParties = %q, want %q", got, tc.want)
			}
		})
	}
}

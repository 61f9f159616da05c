package main

import (
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// The deal phase's mix must queue only behind another partner (a partner
// registering its own customer twice would be something else), reject only
// registrations nobody queues behind, and review only a customer's first.
func TestTheDealMixQueuesBehindOtherPartnersOnly(t *testing.T) {
	for _, size := range []struct{ registrations, customers, partners int }{{2000, 1500, 100}, {200, 150, 20}, {200, 50, 7}, {100, 150, 2}} {
		byCustomer := map[string][]v1alpha1.DealRegistrationSpec{}
		for i := range size.registrations {
			s := dealSpec(i, size.customers, size.partners, size.registrations)
			key := s.Customer.Domain + "/" + s.ProductLine
			byCustomer[key] = append(byCustomer[key], s)
		}
		if len(byCustomer) != min(size.customers, size.registrations) {
			t.Errorf("%+v: %d customers", size, len(byCustomer))
		}
		rejected, reviewed, once := 0, 0, 0
		for key, specs := range byCustomer {
			if len(specs) == 1 {
				once++
			}
			partners := map[string]bool{}
			for k, s := range specs {
				if partners[s.Partner] && len(specs) <= size.partners {
					t.Errorf("%+v: %s registers %s twice", size, s.Partner, key)
				}
				partners[s.Partner] = true
				if s.Type == v1alpha1.DealCoSell {
					rejected++
					if len(specs) > 1 {
						t.Errorf("%+v: %s is rejected and has %d registrations: who queues behind it would be approved later", size, key, len(specs))
					}
				}
				if s.Amount.Amount == dealLargeAmount {
					reviewed++
					if k > 0 {
						t.Errorf("%+v: the %d-th registration of %s is reviewed", size, k+1, key)
					}
				}
			}
		}
		if reviewed == 0 || (rejected == 0 && once >= 20) {
			t.Errorf("%+v: %d rejected, %d reviewed (%d customers registered once): the mix needs both", size, rejected, reviewed, once)
		}
	}
}

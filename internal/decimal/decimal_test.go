package decimal

import (
	"math/big"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestCompare(t *testing.T) {
	tests := map[string]struct {
		a, b    v1alpha1.Decimal
		want    int
		wantErr bool
	}{
		"equal integers":              {a: "250000", b: "250000", want: 0},
		"fraction below integer":      {a: "4.49", b: "4.5", want: -1},
		"exact where float64 rounds":  {a: "0.300000001", b: "0.3", want: 1},
		"negative below zero":         {a: "-1", b: "0", want: -1},
		"trailing zeros are the same": {a: "1.50", b: "1.5", want: 0},
		"empty is an error":           {a: "", b: "1", wantErr: true},
		"words are an error":          {a: "1", b: "lots", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Compare(tc.a, tc.b)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("Compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestFormatAndSum(t *testing.T) {
	tests := map[string]struct {
		in   []v1alpha1.Decimal
		want v1alpha1.Decimal
	}{
		"integers":              {in: []v1alpha1.Decimal{"50000", "25000"}, want: "75000"},
		"fractions trimmed":     {in: []v1alpha1.Decimal{"0.25", "0.25"}, want: "0.5"},
		"nothing sums to zero":  {in: nil, want: "0"},
		"negative and positive": {in: []v1alpha1.Decimal{"-2.5", "1"}, want: "-1.5"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Sum(tc.in...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Sum = %s, want %s", got, tc.want)
			}
		})
	}
	if got := Format(big.NewRat(1, 3)); got != "0.333333333" {
		t.Fatalf("Format(1/3) = %s", got)
	}
}

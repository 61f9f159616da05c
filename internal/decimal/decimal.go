// Package decimal compares the exact decimal strings of the partnergov API
// (v1alpha1.Decimal) as rational numbers, never as floating point.
package decimal

import (
	"fmt"
	"math/big"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Parse returns the exact value of d.
func Parse(d v1alpha1.Decimal) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(string(d))
	if !ok || d == "" {
		return nil, fmt.Errorf("%q is not a decimal number", string(d))
	}
	return r, nil
}

// Compare returns -1, 0 or +1 as a is less than, equal to or greater than b.
func Compare(a, b v1alpha1.Decimal) (int, error) {
	x, err := Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Cmp(y), nil
}

// Format writes r as a Decimal with at most 9 fractional digits and no trailing zeros.
func Format(r *big.Rat) v1alpha1.Decimal {
	if r.IsInt() {
		return v1alpha1.Decimal(r.Num().String())
	}
	s := r.FloatString(9)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return v1alpha1.Decimal(s)
}

// Sum adds decimals; it fails on the first that does not parse.
func Sum(ds ...v1alpha1.Decimal) (v1alpha1.Decimal, error) {
	total := new(big.Rat)
	for _, d := range ds {
		r, err := Parse(d)
		if err != nil {
			return "", err
		}
		total.Add(total, r)
	}
	return Format(total), nil
}

package app

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

func TestMemoryLimitFollowsTheContainer(t *testing.T) {
	const mib = 1 << 20
	limit := func(n uint64) memlimit.Provider { return func() (uint64, error) { return n, nil } }
	for name, tc := range map[string]struct {
		env      map[string]string
		provider memlimit.Provider
		want     int64
	}{
		"a 512 MiB container limit sets GOMEMLIMIT to 90% of it": {provider: limit(512 * mib), want: 512 * mib * 9 / 10},
		"no container limit leaves the runtime unlimited":        {provider: func() (uint64, error) { return 0, memlimit.ErrNoLimit }, want: math.MaxInt64},
		"GOMEMLIMIT in the environment wins":                     {env: map[string]string{"GOMEMLIMIT": "100MiB"}, provider: limit(512 * mib), want: -1},
		"AUTOMEMLIMIT changes the ratio":                         {env: map[string]string{"AUTOMEMLIMIT": "0.5"}, provider: limit(512 * mib), want: 256 * mib},
		"AUTOMEMLIMIT=off turns it off":                          {env: map[string]string{"AUTOMEMLIMIT": "off"}, provider: limit(512 * mib), want: -1},
	} {
		t.Run(name, func(t *testing.T) {
			before := debug.SetMemoryLimit(-1)
			t.Cleanup(func() { debug.SetMemoryLimit(before) })
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := SetMemoryLimit(logr.Discard(), tc.provider)
			if err != nil && !errors.Is(err, memlimit.ErrNoLimit) {
				t.Fatal(err)
			}
			want := tc.want
			if want == -1 {
				want = before // left as it was
			}
			if got := debug.SetMemoryLimit(-1); got != want {
				t.Errorf("GOMEMLIMIT %d, want %d", got, want)
			}
		})
	}
}

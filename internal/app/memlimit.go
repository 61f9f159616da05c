package app

import (
	"log/slog"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// MemoryLimitRatio is the share of the container's memory limit the Go
// runtime's soft limit (GOMEMLIMIT) is set to: the garbage collector works
// harder as the heap nears it, well before the kernel would OOM-kill the
// manager, and the rest is left for what the Go heap does not count.
const MemoryLimitRatio = 0.9

// SetMemoryLimit sets GOMEMLIMIT from provider's memory limit
// (memlimit.FromCgroup in the manager: the container's cgroup v2 or v1
// limit), times MemoryLimitRatio, and returns the limit set. GOMEMLIMIT in
// the environment wins; AUTOMEMLIMIT=off turns this off and AUTOMEMLIMIT=0.8
// changes the ratio. Without a limit (a process outside a container) the
// runtime is left unlimited, as Go starts.
func SetMemoryLimit(log logr.Logger, provider memlimit.Provider) (int64, error) {
	return memlimit.Set(
		memlimit.WithRatio(MemoryLimitRatio),
		memlimit.WithProvider(provider),
		memlimit.WithLogger(slog.New(logr.ToSlogHandler(log))),
	)
}

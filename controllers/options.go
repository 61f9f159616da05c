package controllers

import (
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// Options tune every controller; the defaults are what `make run` and config/manager use.
type Options struct {
	// MaxConcurrentReconciles per controller.
	MaxConcurrentReconciles int
}

func (o Options) controller() controller.Options {
	n := o.MaxConcurrentReconciles
	if n <= 0 {
		n = 1
	}
	return controller.Options{MaxConcurrentReconciles: n}
}

package app

import (
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/config"
)

func ctrlConfig(skipNameValidation bool) config.Controller {
	c := config.Controller{
		// Followers start the controllers' watches too, so a new leader finds its
		// caches filled and starts deciding at once instead of listing everything.
		EnableWarmup: ptr.To(true),
	}
	if skipNameValidation {
		c.SkipNameValidation = &skipNameValidation
	}
	return c
}

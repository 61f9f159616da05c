package app

import "sigs.k8s.io/controller-runtime/pkg/config"

func ctrlConfig(skipNameValidation bool) config.Controller {
	if !skipNameValidation {
		return config.Controller{}
	}
	return config.Controller{SkipNameValidation: &skipNameValidation}
}

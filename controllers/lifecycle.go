package controllers

import "github.com/partnergov/partnergov/api/v1alpha1"

// lifecycleTransitionsOf is the partner's stored lifecycle transitions, newest last.
func lifecycleTransitionsOf(p *v1alpha1.Partner) []v1alpha1.LifecycleTransition {
	if p.Status.Lifecycle == nil {
		return nil
	}
	return p.Status.Lifecycle.Transitions
}

// orNone names a partner's first phase's predecessor in an Event.
func orNone(phase v1alpha1.LifecyclePhase) string {
	if phase == "" {
		return "(none)"
	}
	return string(phase)
}

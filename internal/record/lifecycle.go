package record

import (
	"time"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// LifecycleChangeName is the name of the record of lifecycle transition t of
// partner p: the same transition always has the same name.
func LifecycleChangeName(p *v1alpha1.Partner, t v1alpha1.LifecycleTransition) string {
	return name(p.Name+"-lifecycle", string(p.UID), stamp(t.Time.Time), string(t.From), string(t.To), t.Reason)
}

// LifecycleChange records transition t of partner p (from one lifecycle phase to
// another), made by the controller actor.
func LifecycleChange(p *v1alpha1.Partner, t v1alpha1.LifecycleTransition, actor string, retention time.Duration) *recordsv1alpha1.DecisionRecord {
	r := base(p.Namespace, LifecycleChangeName(p, t), recordsv1alpha1.DecisionLifecycleChange,
		recordsv1alpha1.DecisionSubject{Kind: "Partner", Name: p.Name, UID: string(p.UID)}, p.Name, p.Spec.Program, t.Time.Time, retention)
	r.Spec.Actor, r.Spec.Reason, r.Spec.Message = actor, t.Reason, clip(t.Message)
	r.Spec.From, r.Spec.To = string(t.From), string(t.To)
	return r
}

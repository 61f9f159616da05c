package webhook

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/funds"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-fundsledger,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=fundsledgers,verbs=create;update;delete,versions=v1alpha1,name=vfundsledger.governance.partnergov.io,admissionReviewVersions=v1

// FundsLedgerValidator keeps the programs' funds ledgers the controller's:
// only it creates, updates or deletes a FundsLedger, under the name its
// program, quarter and currency give (funds.LedgerName), or two ledgers could
// count one budget. RBAC grants nobody else a write either; this refuses a
// cluster admin's with the rule.
type FundsLedgerValidator struct {
	ControllerUsername string
}

var fundsLedgersResource = v1alpha1.GroupVersion.WithResource("fundsledgers").GroupResource()

// ValidateCreate checks the writer and the name.
func (v *FundsLedgerValidator) ValidateCreate(ctx context.Context, l *v1alpha1.FundsLedger) (admission.Warnings, error) {
	if err := v.writer(ctx, l); err != nil {
		return nil, err
	}
	if want := funds.LedgerName(l.Spec.Program, l.Spec.Quarter, l.Spec.Currency); l.Name != want {
		return nil, invalid("FundsLedger", l.Name, field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), l.Name,
			fmt.Sprintf("the ledger of program %s's %s budget in %s must be named %s, or a budget could have two ledgers", l.Spec.Program, l.Spec.Quarter, l.Spec.Currency, want))})
	}
	return nil, nil
}

// ValidateUpdate admits the controller only.
func (v *FundsLedgerValidator) ValidateUpdate(ctx context.Context, _, l *v1alpha1.FundsLedger) (admission.Warnings, error) {
	return nil, v.writer(ctx, l)
}

// ValidateDelete admits the controller only.
func (v *FundsLedgerValidator) ValidateDelete(ctx context.Context, l *v1alpha1.FundsLedger) (admission.Warnings, error) {
	return nil, v.writer(ctx, l)
}

func (v *FundsLedgerValidator) writer(ctx context.Context, l *v1alpha1.FundsLedger) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.UserInfo.Username == v.ControllerUsername {
		return nil
	}
	return apierrors.NewForbidden(fundsLedgersResource, l.Name, fmt.Errorf(
		"only the partnergov controller writes FundsLedgers (a program's committed funds against its budget, reserved with each approval); %s may read them, not write them",
		req.UserInfo.Username))
}

// Package plugin implements the kubectl-partnergov commands on top of a
// controller-runtime client, so they are tested against a real API server.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Decide appends one decision to a request's status.decisions with a JSON patch
// that only adds: earlier decisions are never sent back, and the patch fails
// (and is retried) if another decision landed in between. The server stamps the
// reviewer, the time and the generation. An empty stage means the current stage.
func Decide(ctx context.Context, c client.Client, key types.NamespacedName, stage string, verdict v1alpha1.DecisionVerdict, rationale string) (*v1alpha1.ExceptionRequest, error) {
	var req v1alpha1.ExceptionRequest
	err := retry.OnError(retry.DefaultRetry, isRetryable, func() error {
		if err := c.Get(ctx, key, &req); err != nil {
			return err
		}
		s := stage
		if s == "" {
			s = req.Status.CurrentStage
		}
		if s == "" {
			return fmt.Errorf("ExceptionRequest %s is not waiting on any stage (phase %q)", key, req.Status.Phase)
		}
		patch, err := decisionPatch(&req, v1alpha1.ReviewDecision{Stage: s, Decision: verdict, Rationale: rationale})
		if err != nil {
			return err
		}
		return c.Status().Patch(ctx, &req, client.RawPatch(types.JSONPatchType, patch))
	})
	if err != nil {
		return nil, err
	}
	return &req, nil
}

// decisionPatch appends d to the end of the decisions, whatever others appended
// meanwhile. Only the very first decision creates the list, guarded by a test of
// the resourceVersion so that a concurrent first decision is never replaced.
func decisionPatch(req *v1alpha1.ExceptionRequest, d v1alpha1.ReviewDecision) ([]byte, error) {
	if len(req.Status.Decisions) == 0 {
		return json.Marshal([]map[string]any{
			{"op": "test", "path": "/metadata/resourceVersion", "value": req.ResourceVersion},
			{"op": "add", "path": "/status/decisions", "value": []v1alpha1.ReviewDecision{d}},
		})
	}
	return json.Marshal([]map[string]any{{"op": "add", "path": "/status/decisions/-", "value": d}})
}

// isRetryable: a conflict, or a failed JSON patch test (422), means someone
// else wrote in between; read again and retry.
func isRetryable(err error) bool {
	if apierrors.IsConflict(err) {
		return true
	}
	var status apierrors.APIStatus
	return errors.As(err, &status) && status.Status().Code == http.StatusUnprocessableEntity &&
		strings.Contains(status.Status().Message, "test")
}

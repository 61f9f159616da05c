package webhook

import (
	"encoding/json"
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/internal/guard"
	"github.com/partnergov/partnergov/internal/seal"
)

// decodeStatusWrite decodes the stored and the proposed object of a status
// subresource write. It returns a response to send at once when the request is
// not a status write (allowed) or cannot be decoded.
func decodeStatusWrite(d admission.Decoder, req admission.Request, old, updated runtime.Object) *admission.Response {
	if req.SubResource != "status" {
		r := admission.Allowed("")
		return &r
	}
	for raw, obj := range map[*runtime.RawExtension]runtime.Object{&req.OldObject: old, &req.Object: updated} {
		if err := d.DecodeRaw(*raw, obj); err != nil {
			r := admission.Errored(http.StatusBadRequest, err)
			return &r
		}
	}
	return nil
}

// writerOf is the authenticated identity of the request.
func writerOf(req admission.Request, controllerUsername string, seals *seal.Keys) guard.Writer {
	return guard.Writer{
		Username:   req.UserInfo.Username,
		Groups:     req.UserInfo.Groups,
		Controller: req.UserInfo.Username == controllerUsername,
		Seals:      seals,
	}
}

// patched admits the write as the object now is (with the server's stamps).
func patched(req admission.Request, obj runtime.Object) admission.Response {
	raw, err := json.Marshal(obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

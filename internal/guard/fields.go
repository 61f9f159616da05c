package guard

import (
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
)

// changedFields lists, as "status.<json name>", the fields of two status structs
// of the same type that differ, leaving out the fields named in skip. Every
// field is compared, so a field added to the API later is guarded too.
func changedFields(a, b any, skip ...string) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var changed []string
	for i := 0; i < va.NumField(); i++ {
		name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
		if slices.Contains(skip, name) {
			continue
		}
		if !equality.Semantic.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			changed = append(changed, "status."+name)
		}
	}
	return changed
}

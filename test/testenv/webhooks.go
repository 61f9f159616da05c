package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// DeployedControllerUsername is the manager's identity as config/default installs
// it; config/webhook/controller_writes_patch.yaml names it.
const DeployedControllerUsername = "system:serviceaccount:partnergov-system:partnergov-controller-manager"

// WebhookConfigurations reads the generated webhook configurations
// (config/webhook/manifests.yaml) with config/webhook's controller-writes patch
// applied, as kustomize applies it, its expressions naming username instead of
// the deployed ServiceAccount: the test control plane skips the same webhooks
// for its manager as a cluster does.
func WebhookConfigurations(root, username string) ([]*admissionv1.MutatingWebhookConfiguration, []*admissionv1.ValidatingWebhookConfiguration, error) {
	dir := filepath.Join(root, "config", "webhook")
	var mutating []*admissionv1.MutatingWebhookConfiguration
	var validating []*admissionv1.ValidatingWebhookConfiguration
	if err := decodeEach(filepath.Join(dir, "manifests.yaml"), func(m *admissionv1.MutatingWebhookConfiguration) {
		mutating = append(mutating, m)
	}, func(v *admissionv1.ValidatingWebhookConfiguration) {
		validating = append(validating, v)
	}); err != nil {
		return nil, nil, err
	}
	conditions := map[string][]admissionv1.MatchCondition{}
	add := func(name string, mcs []admissionv1.MatchCondition) error {
		for i := range mcs {
			if !strings.Contains(mcs[i].Expression, "'"+DeployedControllerUsername+"'") {
				return fmt.Errorf("match condition %s of webhook %s does not name %s: %s", mcs[i].Name, name, DeployedControllerUsername, mcs[i].Expression)
			}
			mcs[i].Expression = strings.ReplaceAll(mcs[i].Expression, DeployedControllerUsername, username)
		}
		conditions[name] = mcs
		return nil
	}
	var addErr error
	if err := decodeEach(filepath.Join(dir, "controller_writes_patch.yaml"), func(m *admissionv1.MutatingWebhookConfiguration) {
		for _, w := range m.Webhooks {
			addErr = errors.Join(addErr, add(w.Name, w.MatchConditions))
		}
	}, func(v *admissionv1.ValidatingWebhookConfiguration) {
		for _, w := range v.Webhooks {
			addErr = errors.Join(addErr, add(w.Name, w.MatchConditions))
		}
	}); err != nil {
		return nil, nil, err
	}
	if addErr != nil {
		return nil, nil, addErr
	}
	for _, m := range mutating {
		for i := range m.Webhooks {
			if mcs, ok := conditions[m.Webhooks[i].Name]; ok {
				m.Webhooks[i].MatchConditions = mcs
				delete(conditions, m.Webhooks[i].Name)
			}
		}
	}
	for _, v := range validating {
		for i := range v.Webhooks {
			if mcs, ok := conditions[v.Webhooks[i].Name]; ok {
				v.Webhooks[i].MatchConditions = mcs
				delete(conditions, v.Webhooks[i].Name)
			}
		}
	}
	for name := range conditions {
		return nil, nil, fmt.Errorf("controller_writes_patch.yaml patches webhook %s, which manifests.yaml does not have", name)
	}
	return mutating, validating, nil
}

// decodeEach decodes every webhook configuration of a YAML file.
func decodeEach(path string, mutating func(*admissionv1.MutatingWebhookConfiguration), validating func(*admissionv1.ValidatingWebhookConfiguration)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, doc := range strings.Split(string(data), "\n---") {
		var t metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &t); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch t.Kind {
		case "":
			continue
		case "MutatingWebhookConfiguration":
			var m admissionv1.MutatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &m); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			mutating(&m)
		case "ValidatingWebhookConfiguration":
			var v admissionv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &v); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			validating(&v)
		default:
			return fmt.Errorf("%s: unexpected kind %s", path, t.Kind)
		}
	}
	return nil
}

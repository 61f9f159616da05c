package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// User creates a ClusterRole with rules bound to the user (once; later calls
// keep the first rules) and returns the user's client, without a client-side
// rate limit: the people and integrations of a load (requesters, reviewers, a
// CRM) act through it with only what RBAC grants them.
func (c *Cluster) User(ctx context.Context, name string, rules ...rbacv1.PolicyRule) (client.Client, error) {
	role := "harness:" + strings.NewReplacer("@", "-", ".", "-").Replace(name)
	for _, obj := range []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role}, Rules: rules},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: name}}},
	} {
		if err := client.IgnoreAlreadyExists(c.Admin.Create(ctx, obj)); err != nil {
			return nil, err
		}
	}
	// A user made before (another scenario's, same name) gets these rules:
	// its role is replaced, not kept.
	existing := &rbacv1.ClusterRole{}
	if err := c.Admin.Get(ctx, client.ObjectKey{Name: role}, existing); err != nil {
		return nil, err
	}
	if !equality.Semantic.DeepEqual(existing.Rules, rules) {
		existing.Rules = rules
		if err := c.Admin.Update(ctx, existing); err != nil {
			return nil, err
		}
	}
	return c.UserClient(0, 0, name)
}

// WriteSealKey writes a seal key file under dir, for managers started with
// --seal-key-file (every replica seals with the same key, as a mounted Secret
// gives them), and returns its path.
func WriteSealKey(dir string) (string, error) {
	path := filepath.Join(dir, "seal-keys")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte("harness-seal-key-0123456789abcdefghijklmnop\n"), 0o600)
}

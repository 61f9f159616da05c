package harness

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LeaseName is the manager's leader-election lease (app.NewManager's LeaderElectionID).
const LeaseName = "partnergov.governance.partnergov.io"

// holder is the identity the harness takes the lease as, to keep every manager a
// follower: followers serve the webhooks but run no controller.
const holder = "partnergov-harness"

// HoldLease takes the leader lease for the harness, once no manager holds it (a
// manager stopped with SIGTERM releases it). Managers started afterwards wait as
// followers until ReleaseLease.
func (c *Cluster) HoldLease(ctx context.Context) error {
	key := client.ObjectKey{Namespace: SystemNamespace, Name: LeaseName}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		now := metav1.NewMicroTime(time.Now())
		var l coordinationv1.Lease
		err := c.Admin.Get(ctx, key, &l)
		if apierrors.IsNotFound(err) {
			l = coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		} else if err != nil {
			return false, err
		}
		if h := ptr.Deref(l.Spec.HolderIdentity, ""); h != "" && h != holder && l.Spec.RenewTime != nil &&
			now.Sub(l.Spec.RenewTime.Time) < time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 15))*time.Second {
			return false, nil // a manager still leads
		}
		l.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](3600), AcquireTime: &now, RenewTime: &now}
		if l.ResourceVersion == "" {
			err = c.Admin.Create(ctx, &l)
		} else {
			err = c.Admin.Update(ctx, &l)
		}
		return err == nil, client.IgnoreAlreadyExists(ignoreConflict(err))
	})
}

// ReleaseLease gives the lease up; a waiting manager takes it within its retry period.
func (c *Cluster) ReleaseLease(ctx context.Context) error {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: LeaseName}}
	return client.IgnoreNotFound(c.Admin.Delete(ctx, l))
}

// LeaseHolder is the lease's holder identity ("" when free).
func (c *Cluster) LeaseHolder(ctx context.Context) (string, error) {
	var l coordinationv1.Lease
	err := c.Admin.Get(ctx, client.ObjectKey{Namespace: SystemNamespace, Name: LeaseName}, &l)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	return ptr.Deref(l.Spec.HolderIdentity, ""), err
}

// WaitLeader waits until a manager (not the harness, and not except) holds the
// lease and returns its identity.
func (c *Cluster) WaitLeader(ctx context.Context, timeout time.Duration, except string) (string, error) {
	var leader string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		h, err := c.LeaseHolder(ctx)
		if err != nil {
			return false, nil // the API server may be restarting
		}
		leader = h
		return h != "" && h != holder && h != except, nil
	})
	return leader, err
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

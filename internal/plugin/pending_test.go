package plugin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func pendingRequest(ns, name, path, stage string, deadline time.Duration) v1alpha1.ExceptionRequest {
	r := v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec:       v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Partner: "acme"},
		Status: v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhasePending, CurrentStage: stage,
			ReviewPath: &v1alpha1.ResolvedReviewPath{Name: path, EscalationOwner: "vp@example.com"}},
	}
	if deadline != 0 {
		d := metav1.NewTime(now.Add(deadline))
		r.Status.StageDeadline = &d
	}
	return r
}

func TestWaitingOnKeepsTheRequestsTheUserMayDecide(t *testing.T) {
	approved := pendingRequest("a", "approved", "funds", "manager", time.Hour)
	approved.Status.Phase = v1alpha1.PhaseApproved
	unresolved := pendingRequest("a", "unresolved", "", "", 0)
	unresolved.Status.ReviewPath = nil
	noPath := pendingRequest("a", "no-path", "", "escalation", 0)
	noPath.Status.ReviewPath = &v1alpha1.ResolvedReviewPath{EscalationOwner: "someone-else"}
	reqs := []v1alpha1.ExceptionRequest{
		pendingRequest("b", "manager-late", "funds", "manager", 3*time.Hour),
		pendingRequest("a", "finance", "funds", "finance", time.Hour),
		pendingRequest("a", "manager-soon", "funds", "manager", 2*time.Hour),
		pendingRequest("a", "escalated-to-me", "claims", "escalation", 0),
		approved, unresolved, noPath,
	}
	asked := map[string]int{}
	allowed := func(resource string) (bool, error) {
		asked[resource]++
		return resource == "funds.manager" || resource == "escalation", nil
	}
	whoAmICalls := 0
	whoAmI := func() (*authnv1.UserInfo, error) {
		whoAmICalls++
		return &authnv1.UserInfo{Username: "alice@example.com", Groups: []string{"vp@example.com"}}, nil
	}
	cache := &accessCache{check: allowed}
	got, err := waitingOn(reqs, whoAmI, cache.allowed)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	if want := "manager-soon,manager-late,escalated-to-me,no-path"; strings.Join(names, ",") != want {
		t.Errorf("waiting on the user: %s, want %s", strings.Join(names, ","), want)
	}
	// One question per resourceName; the escalation owner (a group) needs none.
	if want := map[string]int{"funds.manager": 1, "funds.finance": 1, "escalation": 1}; !equalCounts(asked, want) {
		t.Errorf("access reviews asked %v, want %v", asked, want)
	}
	if whoAmICalls != 2 {
		t.Errorf("whoAmI called %d times, want 2 (once per escalation request with an owner)", whoAmICalls)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWaitingOnReportsAFailedAccessReview(t *testing.T) {
	_, err := waitingOn([]v1alpha1.ExceptionRequest{pendingRequest("a", "r", "funds", "manager", 0)}, nil,
		func(string) (bool, error) { return false, errors.New("forbidden") })
	if err == nil || err.Error() != "forbidden" {
		t.Fatalf("err = %v, want forbidden", err)
	}
}

func TestAccessCacheAsksOncePerResource(t *testing.T) {
	calls := 0
	c := &accessCache{check: func(string) (bool, error) { calls++; return true, nil }}
	for range 3 {
		if ok, err := c.allowed("funds.manager"); !ok || err != nil {
			t.Fatalf("allowed = %v, %v", ok, err)
		}
	}
	if calls != 1 {
		t.Errorf("checked %d times, want 1", calls)
	}
}

func TestWritePending(t *testing.T) {
	var out bytes.Buffer
	if err := writePending(&out, nil, "partners", now); err != nil {
		t.Fatal(err)
	}
	if want := "No pending exception requests are waiting on you in namespace partners.\n"; out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	out.Reset()
	reqs := []v1alpha1.ExceptionRequest{pendingRequest("partners", "acme-q4-funds", "funds", "manager", 2*time.Hour), pendingRequest("other", "x", "", "escalation", 0)}
	if err := writePending(&out, reqs, "", now); err != nil {
		t.Fatal(err)
	}
	want := "NAMESPACE  NAME           TYPE   PARTNER  STAGE       DEADLINE                        AGE\n" +
		"partners   acme-q4-funds  Funds  acme     manager     2026-11-23T14:00:00Z (in 120m)  60m\n" +
		"other      x              Funds  acme     escalation  -                               60m\n"
	if out.String() != want {
		t.Errorf("output =\n%s\nwant\n%s", out.String(), want)
	}
}

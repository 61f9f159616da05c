// Command namespace-controller is kube-controller-manager's namespace
// controller alone (k8s.io/kubernetes/pkg/controller/namespace, wired as
// kube-controller-manager wires it: its client at 20 times the QPS and 100 times
// the burst, ServerPreferredNamespacedResources for discovery, a five-minute
// resync, ten workers, the "kubernetes" finalizer). The test control plane runs
// no kube-controller-manager, so a deleted namespace stays Terminating; the
// chaos harness runs this where a scenario needs namespaces to go, as a cluster
// would: it deletes a namespace's content and finalizes it, and, as in a
// cluster, holds the namespace Terminating while discovery of any API group
// fails (an unavailable aggregated API).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	namespacecontroller "k8s.io/kubernetes/pkg/controller/namespace"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of a user allowed to list, watch and finalize namespaces and delete what they hold")
	resync := flag.Duration("namespace-sync-period", 5*time.Minute, "how often namespaces are synced again (kube-controller-manager's --namespace-sync-period)")
	workers := flag.Int("concurrent-namespace-syncs", 10, "namespaces deleted at once (kube-controller-manager's --concurrent-namespace-syncs)")
	klog.InitFlags(nil)
	flag.Parse()
	if err := run(*kubeconfig, *resync, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "namespace-controller:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string, resync time.Duration, workers int) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cfg.UserAgent = "namespace-controller"
	cfg.QPS, cfg.Burst = 20*20, 30*100 // kube-controller-manager's defaults (20, 30), raised as it raises them for this controller
	kc, err := clientset.NewForConfig(cfg)
	if err != nil {
		return err
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	factory := informers.NewSharedInformerFactory(kc, 12*time.Hour)
	nc := namespacecontroller.NewNamespaceController(ctx, kc, mc, kc.Discovery().ServerPreferredNamespacedResources,
		factory.Core().V1().Namespaces(), resync, v1.FinalizerKubernetes)
	factory.Start(ctx.Done())
	nc.Run(ctx, workers)
	factory.Shutdown()
	return nil
}

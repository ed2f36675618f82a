package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
)

func kubeFlags(cmd *cobra.Command, k *kubeOptions) {
	f := cmd.Flags()
	f.StringVar(&k.kubeconfig, "kubeconfig", "",
		"kubeconfig file for --executor kubernetes (default: $KUBECONFIG or ~/.kube/config if present, else the pod's service account in a cluster)")
	f.StringVar(&k.namespace, "kubernetes-namespace", "", "namespace of the step Jobs (default: mlopsd's own namespace in a cluster, else the kubeconfig context's)")
	f.StringVar(&k.serviceAccount, "kubernetes-service-account", "",
		"service account the step pods run as (default: the pod template's, else the namespace's default without an API token)")
	f.StringVar(&k.defaultImage, "kubernetes-default-image", "", "image for steps that name none (default: such steps are refused)")
	f.StringVar(&k.podTemplate, "kubernetes-pod-template", "",
		"YAML PodTemplateSpec every step pod starts from: resources of its container named \"step\", node selector, tolerations, image pull secrets, security context")
	f.StringVar(&k.dataClaim, "kubernetes-data-claim", "",
		"ReadWriteMany PersistentVolumeClaim mounted at --data-dir in every step pod; mlopsd must have the same claim at --data-dir, so steps share the run's files and mlopsd reads their outputs")
	f.DurationVar(&k.jobTTL, "kubernetes-job-ttl", executor.DefaultJobTTL, "how long finished Jobs and their pods are kept (their logs are in the run already)")
	f.DurationVar(&k.startTimeout, "kubernetes-start-timeout", executor.DefaultStartTimeout,
		"fail an attempt whose container has not started by then (image not pullable, pod not schedulable)")
}

// kubeFlagsNeedExecutor refuses Kubernetes flags that would be silently ignored.
func kubeFlagsNeedExecutor(cmd *cobra.Command, exec string) error {
	if exec == "kubernetes" {
		return nil
	}
	var set []string
	for _, name := range []string{"kubeconfig", "kubernetes-namespace", "kubernetes-service-account", "kubernetes-default-image",
		"kubernetes-pod-template", "kubernetes-data-claim", "kubernetes-job-ttl", "kubernetes-start-timeout"} {
		if cmd.Flags().Changed(name) {
			set = append(set, "--"+name)
		}
	}
	if len(set) > 0 {
		return fmt.Errorf("%s apply to --executor kubernetes only (the executor is %q)", strings.Join(set, ", "), exec)
	}
	return nil
}

// newKubeExecutor connects to the cluster and checks, before serving, that
// mlopsd may create Jobs and read pod logs in the namespace.
func newKubeExecutor(ctx context.Context, o kubeOptions, dataDir string, log *slog.Logger) (executor.Executor, error) {
	client, namespace, err := executor.KubernetesClient(o.kubeconfig)
	if err != nil {
		return nil, err
	}
	if o.namespace != "" {
		namespace = o.namespace
	}
	cfg := executor.KubernetesConfig{
		Namespace: namespace, ServiceAccount: o.serviceAccount, DefaultImage: o.defaultImage,
		DataClaim: o.dataClaim, DataDir: dataDir, JobTTL: o.jobTTL, StartTimeout: o.startTimeout,
	}
	if o.podTemplate != "" {
		if cfg.PodTemplate, err = executor.LoadPodTemplate(o.podTemplate); err != nil {
			return nil, err
		}
	}
	k, err := executor.NewKubernetes(client, cfg)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := k.Preflight(pctx); err != nil {
		return nil, err
	}
	if o.dataClaim == "" {
		log.Warn("--kubernetes-data-claim is not set: each step's files stay in its pod, so steps cannot pass files on and runs register no model versions")
	}
	log.Info("kubernetes executor", "namespace", namespace, "service_account", o.serviceAccount, "data_claim", o.dataClaim)
	return k, nil
}

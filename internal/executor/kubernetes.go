package executor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// Labels and annotations on every Job and pod the Kubernetes executor creates.
// Label values are the names themselves when they are valid label values (mlops
// names always are) and a truncated, hashed form otherwise; the annotations
// keep the exact values.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelProject   = "mlops.dev/project"
	LabelPipeline  = "mlops.dev/pipeline"
	LabelRun       = "mlops.dev/run" // the run's number within its pipeline
	LabelStep      = "mlops.dev/step"
	LabelAttempt   = "mlops.dev/attempt"

	AnnotationRunID = "mlops.dev/run-id" // project/pipeline/number
	AnnotationStep  = "mlops.dev/step"

	managedBy = "mlopsd"
	// StepContainer is the name of the step's container; a container of this
	// name in the pod template is the base the step's container is built on.
	StepContainer = "step"
	// jobNameLabel is set on a Job's pods by the Job controller (Kubernetes 1.27+).
	jobNameLabel = "batch.kubernetes.io/job-name"
)

// Defaults of KubernetesConfig.
const (
	DefaultJobTTL       = time.Hour
	DefaultStartTimeout = 10 * time.Minute
	DefaultPollInterval = 2 * time.Second
	DefaultDeleteWait   = 2 * time.Minute
)

// logDrain bounds how long Run waits for the pod's log stream to end once the
// Job has finished or been deleted; the container has exited by then, so the
// stream normally ends at once.
const logDrain = 30 * time.Second

// KubernetesConfig says where and how the Kubernetes executor runs steps.
type KubernetesConfig struct {
	// Namespace the Jobs are created in; required.
	Namespace string
	// ServiceAccount the step pods run as. Empty: the pod template's, else the
	// namespace's default account without an API token mounted, so a step gets
	// no Kubernetes credentials unless an operator grants them.
	ServiceAccount string
	// DefaultImage runs steps that name no image; empty refuses such steps.
	DefaultImage string
	// PodTemplate is the base of every step's pod (node selector, tolerations,
	// image pull secrets, security context, volumes); its container named
	// StepContainer, if any, is the base of the step's container (resources,
	// env from secrets, volume mounts). Image, command and working directory
	// always come from the step.
	PodTemplate *corev1.PodTemplateSpec
	// DataClaim is a PersistentVolumeClaim (ReadWriteMany) mounted at DataDir in
	// every step pod. With mlopsd's own --data-dir on the same claim, steps share
	// the run's files and mlopsd reads the outputs (metrics.json, model.json)
	// the steps wrote. Without it each step gets empty scratch directories that
	// vanish with its pod.
	DataClaim string
	// DataDir is where DataClaim is mounted: mlopsd's absolute --data-dir.
	DataDir string
	// JobTTL is how long a finished Job and its pod are kept (the log is copied
	// already); 0 means DefaultJobTTL.
	JobTTL time.Duration
	// StartTimeout fails an attempt whose container has not started by then
	// (an image that cannot be pulled, a pod that cannot be scheduled); 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// PollInterval is how often a running Job's status is read; 0 means DefaultPollInterval.
	PollInterval time.Duration
	// DeleteWait bounds how long stopping a step waits for its pod to be gone;
	// 0 means DefaultDeleteWait.
	DeleteWait time.Duration
}

// Kubernetes runs each attempt of a step as a Kubernetes Job of one pod. The
// Job never retries (backoffLimit 0: the runner owns retries), the pod's log
// is streamed into the step's log, and stopping the step deletes the Job
// together with its pod.
type Kubernetes struct {
	client kubernetes.Interface
	cfg    KubernetesConfig
}

var (
	_ Executor = (*Kubernetes)(nil)
	_ Checker  = (*Kubernetes)(nil)
)

// NewKubernetes checks cfg and returns an executor that uses client.
func NewKubernetes(client kubernetes.Interface, cfg KubernetesConfig) (*Kubernetes, error) {
	if client == nil {
		return nil, errors.New("kubernetes executor: no client")
	}
	if cfg.Namespace == "" {
		return nil, errors.New("kubernetes executor: no namespace")
	}
	if cfg.DataClaim != "" && !filepath.IsAbs(cfg.DataDir) {
		return nil, fmt.Errorf("kubernetes executor: the data claim %q needs the absolute data directory to mount it at, not %q", cfg.DataClaim, cfg.DataDir)
	}
	if t := cfg.PodTemplate; t != nil {
		for _, c := range t.Spec.Containers {
			if c.Name != StepContainer {
				return nil, fmt.Errorf("pod template: container %q: the template may hold only a container named %q (the step's base); run sidecars as initContainers with restartPolicy: Always, or the Job never completes", c.Name, StepContainer)
			}
		}
	}
	if cfg.JobTTL <= 0 {
		cfg.JobTTL = DefaultJobTTL
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.DeleteWait <= 0 {
		cfg.DeleteWait = DefaultDeleteWait
	}
	return &Kubernetes{client: client, cfg: cfg}, nil
}

// KubernetesClient connects with the kubeconfig file at path or, when path is
// empty, with $KUBECONFIG or ~/.kube/config if there is one, else with the
// pod's service account inside a cluster. namespace is the one the config
// names: the pod's own namespace inside a cluster.
func KubernetesClient(path string) (client kubernetes.Interface, namespace string, err error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes: no usable configuration (not in a cluster, and no kubeconfig at --kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	rc.UserAgent = "mlopsd"
	namespace, _, err = cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes: namespace: %w", err)
	}
	client, err = kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes: %w", err)
	}
	return client, namespace, nil
}

// LoadPodTemplate reads a PodTemplateSpec (metadata and spec) from a YAML or
// JSON file. Unknown fields are errors, so a misspelt field is not silently
// ignored.
func LoadPodTemplate(path string) (*corev1.PodTemplateSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pod template: %w", err)
	}
	var t corev1.PodTemplateSpec
	if err := yaml.UnmarshalStrict(b, &t); err != nil {
		return nil, fmt.Errorf("pod template %s (a PodTemplateSpec: metadata and spec): %w", path, err)
	}
	return &t, nil
}

// Preflight asks the API server whether this process may do what running
// steps needs in the namespace, so a missing Role shows at start rather than
// as failed runs.
func (k *Kubernetes) Preflight(ctx context.Context) error {
	need := []authorizationv1.ResourceAttributes{
		{Group: "batch", Resource: "jobs", Verb: "create"},
		{Group: "batch", Resource: "jobs", Verb: "get"},
		{Group: "batch", Resource: "jobs", Verb: "delete"},
		{Resource: "pods", Verb: "list"},
		{Resource: "pods", Subresource: "log", Verb: "get"},
	}
	var missing []string
	for _, ra := range need {
		ra.Namespace = k.cfg.Namespace
		review, err := k.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("kubernetes: checking permissions in namespace %q: %w", k.cfg.Namespace, err)
		}
		if !review.Status.Allowed {
			what := ra.Resource
			if ra.Subresource != "" {
				what += "/" + ra.Subresource
			}
			if ra.Group != "" {
				what += "." + ra.Group
			}
			missing = append(missing, ra.Verb+" "+what)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kubernetes: this server may not %s in namespace %q; bind it a Role that allows them (see examples/kubernetes/rbac.yaml)",
			strings.Join(missing, ", "), k.cfg.Namespace)
	}
	return nil
}

// Check refuses a step the executor cannot run: one without an image when
// there is no default image.
func (k *Kubernetes) Check(s Step) error {
	if s.Image == "" && k.cfg.DefaultImage == "" {
		return fmt.Errorf("step %q has no image: the kubernetes executor runs every step in a container; set the step's image (for example image = \"python:3.12-slim\") or start mlopsd with --kubernetes-default-image", s.Name)
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return fmt.Errorf("step %q has no command", s.Name)
	}
	return nil
}

// Run creates the attempt's Job and waits for it to finish, streaming its pod's
// log to logs. Cancelling ctx, the step's timeout and a container that cannot
// start delete the Job and its pod.
func (k *Kubernetes) Run(ctx context.Context, s Step, logs io.Writer) Result {
	if logs == nil {
		logs = io.Discard
	}
	if err := k.Check(s); err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	job, err := k.job(s)
	if err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	if ctx.Err() != nil {
		return Result{ExitCode: -1, Err: cancelErr(ctx)}
	}
	// Clean-up must reach the API server after ctx is cancelled.
	bg := context.WithoutCancel(ctx)
	w := &lockedWriter{w: logs}
	if err := k.create(ctx, job, w); err != nil {
		if ctx.Err() != nil {
			// The create may have reached the server before the cancel.
			k.stop(bg, job.Name, w)
			return Result{ExitCode: -1, Err: cancelErr(ctx)}
		}
		return Result{ExitCode: -1, Err: fmt.Errorf("create Job %s/%s: %w", k.cfg.Namespace, job.Name, err)}
	}
	return k.wait(ctx, s, job.Name, w)
}

// wait follows a created Job to its end.
func (k *Kubernetes) wait(ctx context.Context, s Step, name string, w *lockedWriter) Result {
	bg := context.WithoutCancel(ctx)
	// The log stream outlives ctx: a cancelled step's last words (a checkpoint
	// saved on SIGTERM) still reach the log.
	logCtx, stopLogs := context.WithCancel(bg)
	defer stopLogs()
	var logsDone chan struct{}
	followLogs := func(pod string) {
		logsDone = make(chan struct{})
		go func() {
			defer close(logsDone)
			k.streamLogs(logCtx, pod, w)
		}()
	}

	var timeout <-chan time.Time
	if s.Timeout > 0 {
		t := time.NewTimer(s.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	startBy := time.Now().Add(k.cfg.StartTimeout)
	tick := time.NewTicker(k.cfg.PollInterval)
	defer tick.Stop()
	jobs := k.client.BatchV1().Jobs(k.cfg.Namespace)
	var (
		res         Result
		pod         *corev1.Pod
		lastWaiting string
		readErr     string
	)
loop:
	for {
		select {
		case <-ctx.Done():
			w.note("cancelled: deleting Job %s", name)
			k.stop(bg, name, w)
			res = Result{ExitCode: -1, Err: cancelErr(ctx)}
			break loop
		case <-timeout:
			w.note("timed out after %s: deleting Job %s", s.Timeout, name)
			k.stop(bg, name, w)
			res = Result{ExitCode: -1, TimedOut: true, Err: fmt.Errorf("timed out after %s", s.Timeout)}
			break loop
		case <-tick.C:
		}
		job, err := jobs.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			res = Result{ExitCode: -1, Err: fmt.Errorf("the Job %s/%s was deleted before it finished", k.cfg.Namespace, name)}
			break loop
		case err != nil:
			// The API server may be briefly unreachable; the step's timeout
			// bounds how long this can go on.
			if msg := err.Error(); msg != readErr && ctx.Err() == nil {
				w.note("cannot read Job %s, still trying: %v", name, err)
				readErr = msg
			}
			continue
		}
		readErr = ""
		if p, err := k.pod(ctx, name); err == nil && p != nil {
			pod = p
		}
		if logsDone == nil && started(pod) {
			followLogs(pod.Name)
		}
		if done, failed := finished(job); done {
			res = k.result(job, failed, pod)
			break loop
		}
		if logsDone != nil {
			continue
		}
		// Not started yet: say why, and give up on what will not resolve.
		why, fatal := waiting(pod)
		if why != "" && why != lastWaiting {
			w.note("pod %s is waiting: %s", pod.Name, why)
			lastWaiting = why
		}
		if fatal || time.Now().After(startBy) {
			k.stop(bg, name, w)
			msg := fmt.Sprintf("the container did not start within %s", k.cfg.StartTimeout)
			if fatal {
				msg = "the container cannot start"
			}
			if why != "" {
				msg += ": " + why
			}
			res = Result{ExitCode: -1, Err: errors.New(msg)}
			break loop
		}
	}

	// A container that ran between two polls is seen only now.
	if logsDone == nil {
		if p, err := k.pod(bg, name); err == nil && started(p) {
			followLogs(p.Name)
		}
	}
	if logsDone != nil {
		drain := time.NewTimer(logDrain)
		select {
		case <-logsDone:
		case <-drain.C:
			stopLogs()
			<-logsDone
		}
		drain.Stop()
	}
	return res
}

// job builds the Job of one attempt.
func (k *Kubernetes) job(s Step) (*batchv1.Job, error) {
	image := s.Image
	if image == "" {
		image = k.cfg.DefaultImage
	}
	labels := stepLabels(s)
	annotations := map[string]string{AnnotationRunID: s.RunID, AnnotationStep: s.Name}

	var tmpl corev1.PodTemplateSpec
	if k.cfg.PodTemplate != nil {
		tmpl = *k.cfg.PodTemplate.DeepCopy()
	}
	tmpl.Labels = mergeMaps(tmpl.Labels, labels)
	tmpl.Annotations = mergeMaps(tmpl.Annotations, annotations)
	spec := &tmpl.Spec
	spec.RestartPolicy = corev1.RestartPolicyNever
	if k.cfg.ServiceAccount != "" {
		spec.ServiceAccountName = k.cfg.ServiceAccount
	}
	if spec.ServiceAccountName == "" && spec.AutomountServiceAccountToken == nil {
		no := false
		spec.AutomountServiceAccountToken = &no
	}

	var c corev1.Container
	if len(spec.Containers) > 0 {
		c = spec.Containers[0] // NewKubernetes allows only the step container
	}
	c.Name = StepContainer
	c.Image = image
	// Kubernetes expands $(VAR) in command and env values; escaped, the step
	// gets exactly the argv and values it declared, as with the local executor.
	c.Command = make([]string, len(s.Command))
	for i, a := range s.Command {
		c.Command[i] = escapeExpansion(a)
	}
	c.Args = nil
	env, err := containerEnv(c.Env, s.Env)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", s.Name, err)
	}
	c.Env = env

	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	if s.WorkDir != "" {
		c.WorkingDir = s.WorkDir
		if k.cfg.DataClaim != "" {
			if !within(k.cfg.DataDir, s.WorkDir) {
				return nil, fmt.Errorf("step %q: its work directory %s is not under the data directory %s that the claim %q is mounted at", s.Name, s.WorkDir, k.cfg.DataDir, k.cfg.DataClaim)
			}
			volumes = append(volumes, corev1.Volume{Name: "mlops-data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: k.cfg.DataClaim},
			}})
			mounts = append(mounts, corev1.VolumeMount{Name: "mlops-data", MountPath: k.cfg.DataDir})
		} else {
			// Scratch space at the paths the step is told about, so it can
			// write there; nothing of it outlives the pod.
			volumes = append(volumes, corev1.Volume{Name: "mlops-work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "mlops-work", MountPath: s.WorkDir})
			if out := s.Env[envOutputDir]; filepath.IsAbs(out) && !within(s.WorkDir, out) {
				volumes = append(volumes, corev1.Volume{Name: "mlops-outputs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
				mounts = append(mounts, corev1.VolumeMount{Name: "mlops-outputs", MountPath: out})
			}
		}
	}
	for _, v := range volumes {
		if slices.ContainsFunc(spec.Volumes, func(t corev1.Volume) bool { return t.Name == v.Name }) {
			return nil, fmt.Errorf("pod template: volume name %q is reserved for mlopsd", v.Name)
		}
	}
	spec.Volumes = append(spec.Volumes, volumes...)
	c.VolumeMounts = append(c.VolumeMounts, mounts...)
	spec.Containers = []corev1.Container{c}

	backoff := int32(0)
	ttl := int32(min(k.cfg.JobTTL/time.Second, 1<<31-1))
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        jobName(s),
			Namespace:   k.cfg.Namespace,
			Labels:      labels,
			Annotations: annotations,
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			TTLSecondsAfterFinished: &ttl,
			Template:                tmpl,
		},
	}
	if s.Timeout > 0 {
		// The cluster enforces the timeout too, so a step outlives neither a
		// stopped mlopsd nor its timeout.
		secs := int64((s.Timeout + time.Second - 1) / time.Second)
		job.Spec.ActiveDeadlineSeconds = &secs
	}
	return job, nil
}

// envOutputDir is runner.EnvOutputDir (not imported: the runner imports this package).
const envOutputDir = "MLOPS_OUTPUT_DIR"

// create creates job, replacing a Job of the same name that an earlier
// execution of this very attempt left behind (its worker stopped and the run
// was taken over), so two pods never write the same run's files.
func (k *Kubernetes) create(ctx context.Context, job *batchv1.Job, w *lockedWriter) error {
	jobs := k.client.BatchV1().Jobs(k.cfg.Namespace)
	_, err := jobs.Create(ctx, job, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	old, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err == nil && old.Labels[LabelManagedBy] != managedBy {
		return fmt.Errorf("a Job named %s that mlopsd did not create exists", job.Name)
	}
	w.note("replacing Job %s left by an earlier execution of this attempt", job.Name)
	if err := k.deleteJob(ctx, job.Name); err != nil {
		return err
	}
	_, err = jobs.Create(ctx, job, metav1.CreateOptions{})
	return err
}

// stop deletes the Job and its pod, and notes in the log when that does not
// finish in time (the garbage collector carries on without us).
func (k *Kubernetes) stop(ctx context.Context, name string, w *lockedWriter) {
	if err := k.deleteJob(ctx, name); err != nil {
		w.note("deleting Job %s: %v", name, err)
	}
}

// deleteJob deletes the Job in the foreground, so it stays visible until its
// pod is gone, and waits for that.
func (k *Kubernetes) deleteJob(ctx context.Context, name string) error {
	jobs := k.client.BatchV1().Jobs(k.cfg.Namespace)
	fg := metav1.DeletePropagationForeground
	err := jobs.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	deadline := time.Now().Add(k.cfg.DeleteWait)
	for {
		_, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("its pod still exists after %s", k.cfg.DeleteWait)
		}
		if !sleep(ctx, k.cfg.PollInterval) {
			return ctx.Err()
		}
	}
}

// pod returns the newest pod of the Job, or nil before there is one.
func (k *Kubernetes) pod(ctx context.Context, job string) (*corev1.Pod, error) {
	list, err := k.client.CoreV1().Pods(k.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: jobNameLabel + "=" + job})
	if err != nil || len(list.Items) == 0 {
		return nil, err
	}
	newest := &list.Items[0]
	for i := range list.Items {
		if list.Items[i].CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = &list.Items[i]
		}
	}
	return newest, nil
}

// result maps a finished Job to the attempt's result.
func (k *Kubernetes) result(job *batchv1.Job, failed *batchv1.JobCondition, pod *corev1.Pod) Result {
	term := stepTerminated(pod)
	if failed == nil {
		code := 0
		if term != nil {
			code = int(term.ExitCode)
		}
		return Result{ExitCode: code}
	}
	if failed.Reason == batchv1.JobReasonDeadlineExceeded {
		return Result{ExitCode: -1, TimedOut: true, Err: fmt.Errorf("timed out: %s", failed.Message)}
	}
	if term != nil {
		res := Result{ExitCode: int(term.ExitCode)}
		switch term.Reason {
		case "", "Error", "Completed":
			// A plain exit: the exit code says it.
		case "OOMKilled":
			res.Err = fmt.Errorf("the container ran out of memory (OOMKilled, exit code %d); raise the memory limit of the %q container in the pod template", term.ExitCode, StepContainer)
		default:
			res.Err = fmt.Errorf("the container ended with %s (exit code %d)%s", term.Reason, term.ExitCode, suffix(term.Message))
		}
		return res
	}
	msg := fmt.Sprintf("the Job %s failed: %s%s", job.Name, failed.Reason, suffix(failed.Message))
	if pod != nil && pod.Status.Reason != "" {
		msg += fmt.Sprintf("; pod %s: %s%s", pod.Name, pod.Status.Reason, suffix(pod.Status.Message))
	}
	return Result{ExitCode: -1, Err: errors.New(msg)}
}

func suffix(msg string) string {
	if msg = strings.TrimSpace(msg); msg == "" {
		return ""
	}
	return ": " + msg
}

// finished reports whether the Job has ended, and the Failed condition if it failed.
func finished(job *batchv1.Job) (done bool, failed *batchv1.JobCondition) {
	for i, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, nil
		case batchv1.JobFailed:
			return true, &job.Status.Conditions[i]
		}
	}
	return false, nil
}

func stepStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	if pod == nil {
		return nil
	}
	for i, c := range pod.Status.ContainerStatuses {
		if c.Name == StepContainer {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func stepTerminated(pod *corev1.Pod) *corev1.ContainerStateTerminated {
	if cs := stepStatus(pod); cs != nil {
		return cs.State.Terminated
	}
	return nil
}

// started reports whether the step's container has run, so it has a log.
func started(pod *corev1.Pod) bool {
	cs := stepStatus(pod)
	return cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil)
}

// fatalWaiting are reasons a container waits that do not resolve by waiting.
var fatalWaiting = map[string]bool{"InvalidImageName": true, "ErrImageNeverPull": true}

// waiting says why a pod's step container has not started.
func waiting(pod *corev1.Pod) (why string, fatal bool) {
	if pod == nil {
		return "", false
	}
	if cs := stepStatus(pod); cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
		wt := cs.State.Waiting
		return wt.Reason + suffix(wt.Message), fatalWaiting[wt.Reason]
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			return c.Reason + suffix(c.Message), false
		}
	}
	return "", false
}

// maxLogFailures bounds reconnects of a log stream that delivers nothing.
const maxLogFailures = 5

// streamLogs copies the step container's log to w until the container has
// ended. A stream that breaks while the container runs (API server or kubelet
// connections do not last for ever) is resumed from the last line's
// timestamp, skipping lines already copied.
func (k *Kubernetes) streamLogs(ctx context.Context, pod string, w *lockedWriter) {
	pods := k.client.CoreV1().Pods(k.cfg.Namespace)
	var last time.Time
	failures := 0
	for {
		opts := &corev1.PodLogOptions{Container: StepContainer, Follow: true, Timestamps: true}
		if !last.IsZero() {
			since := metav1.NewTime(last)
			opts.SinceTime = &since
		}
		var copied int
		rc, err := pods.GetLogs(pod, opts).Stream(ctx)
		if err == nil {
			var stamped bool
			copied, stamped, last, err = copyLogLines(w, rc, last)
			rc.Close()
			if copied > 0 && !stamped {
				return // without timestamps a resumed stream would repeat lines
			}
		}
		if ctx.Err() != nil {
			return
		}
		p, gerr := pods.Get(ctx, pod, metav1.GetOptions{})
		ended := apierrors.IsNotFound(gerr) || (gerr == nil && stepTerminated(p) != nil)
		if ended && err == nil {
			return // a follow stream ends when the container does
		}
		if copied > 0 {
			failures = 0
		} else if failures++; failures >= maxLogFailures {
			if err != nil {
				w.note("reading the log of pod %s: %v", pod, err)
			}
			return
		}
		if !sleep(ctx, k.cfg.PollInterval) {
			return
		}
	}
}

// copyLogLines copies lines of a log read with timestamps to w without them,
// skipping those not after last. A line without a timestamp is copied whole.
func copyLogLines(w io.Writer, r io.Reader, last time.Time) (copied int, stamped bool, newest time.Time, err error) {
	br := bufio.NewReaderSize(r, 64*1024)
	newest = last
	for {
		line, rerr := br.ReadBytes('\n')
		if len(line) > 0 {
			out := line
			if i := bytes.IndexByte(line, ' '); i > 0 {
				if ts, perr := time.Parse(time.RFC3339Nano, string(line[:i])); perr == nil {
					stamped = true
					if !ts.After(last) {
						out = nil // already copied before a reconnect
					} else {
						out = line[i+1:]
						newest = ts
					}
				}
			}
			if len(out) > 0 {
				if _, werr := w.Write(out); werr != nil {
					return copied, stamped, newest, werr
				}
				copied += len(out)
			}
		}
		if rerr == io.EOF {
			return copied, stamped, newest, nil
		}
		if rerr != nil {
			return copied, stamped, newest, rerr
		}
	}
}

// containerEnv is the template container's env without the variables the step
// sets, then the step's environment in name order (a stable manifest).
func containerEnv(base []corev1.EnvVar, env map[string]string) ([]corev1.EnvVar, error) {
	out := make([]corev1.EnvVar, 0, len(base)+len(env))
	for _, e := range base {
		if _, ok := env[e.Name]; !ok {
			out = append(out, e)
		}
	}
	keys := slices.Sorted(maps.Keys(env))
	for _, name := range keys {
		if name == "" || strings.ContainsAny(name, "=\x00") || strings.Contains(env[name], "\x00") {
			return nil, fmt.Errorf("invalid environment variable %q", name)
		}
		out = append(out, corev1.EnvVar{Name: name, Value: escapeExpansion(env[name])})
	}
	return out, nil
}

// escapeExpansion keeps Kubernetes from expanding $(VAR): "$$" is a literal "$".
func escapeExpansion(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func mergeMaps(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}

// stepLabels tie a Job and its pod to the step's project, pipeline, run and
// attempt; project and pipeline come from the environment the engine gives
// every step.
func stepLabels(s Step) map[string]string {
	labels := map[string]string{
		LabelManagedBy: managedBy,
		LabelRun:       labelValue(s.RunID[strings.LastIndexByte(s.RunID, '/')+1:]),
		LabelStep:      labelValue(s.Name),
		LabelAttempt:   strconv.Itoa(s.Attempt),
	}
	if p := s.Env["MLOPS_PROJECT"]; p != "" {
		labels[LabelProject] = labelValue(p)
	}
	if p := s.Env["MLOPS_PIPELINE"]; p != "" {
		labels[LabelPipeline] = labelValue(p)
	}
	return labels
}

var (
	labelValueRE   = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	notLabelCharRE = regexp.MustCompile(`[^-A-Za-z0-9_.]+`)
	notDNSCharRE   = regexp.MustCompile(`[^-a-z0-9]+`)
)

// labelValue returns v if it is a valid label value, else a valid one made of
// v's allowed characters and a hash of v, so distinct values stay distinct.
func labelValue(v string) string {
	if len(v) <= 63 && labelValueRE.MatchString(v) {
		return v
	}
	s := notLabelCharRE.ReplaceAllString(v, "-")
	if len(s) > 52 {
		s = s[:52]
	}
	s = strings.Trim(s, "-_.")
	if s == "" {
		return "h" + shortHash(v)
	}
	return s + "-" + shortHash(v)
}

// jobName is readable (mlops-<pipeline>-<run>-<step>-<attempt>) and unique
// across projects through a hash of the full identity; a DNS label, as Job
// names must be for their pods' job-name label.
func jobName(s Step) string {
	run := s.RunID[strings.LastIndexByte(s.RunID, '/')+1:]
	base := strings.Join([]string{"mlops", s.Env["MLOPS_PIPELINE"], run, s.Name, strconv.Itoa(s.Attempt)}, "-")
	base = notDNSCharRE.ReplaceAllString(strings.ToLower(base), "-")
	base = strings.ReplaceAll(base, "--", "-")
	if len(base) > 63-9 {
		base = base[:63-9]
	}
	base = strings.TrimRight(base, "-")
	return base + "-" + shortHash(s.RunID+"\x00"+s.Env["MLOPS_PROJECT"]+"\x00"+s.Name+"\x00"+strconv.Itoa(s.Attempt))
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// lockedWriter serializes writes to the step's log from the log stream and
// from Run's own notes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// note writes a line of mlopsd's own into the step's log, marked as such.
func (l *lockedWriter) note(format string, args ...any) {
	fmt.Fprintf(l, "[mlopsd] "+format+"\n", args...)
}

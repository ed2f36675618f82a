package executor_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
	"github.com/mlopsplane/terraform-provider-mlops/internal/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const ns = "ml-jobs"

// trainStep is a representative step as the engine hands it over.
func trainStep() executor.Step {
	return executor.Step{
		RunID: "churn/train/12", Name: "fit", Attempt: 2,
		// $(LR) and $MLOPS_OUTPUT_DIR must reach the process as written.
		Command: []string{"python", "train.py", "--lr", "$(LR)", "--out", "$MLOPS_OUTPUT_DIR"},
		Image:   "ghcr.io/acme/churn-train:1.4",
		Env: map[string]string{
			"MLOPS_PROJECT": "churn", "MLOPS_PIPELINE": "train", "MLOPS_RUN_ID": "churn/train/12",
			"MLOPS_PIPELINE_REVISION": "3", "MLOPS_PARAM_LR": "0.01", "MLOPS_STEP_NAME": "fit", "MLOPS_STEP_ATTEMPT": "2",
			"MLOPS_OUTPUT_DIR": "/var/lib/mlops/churn/train/12/outputs",
		},
		WorkDir: "/var/lib/mlops/churn/train/12/work",
		Timeout: 90 * time.Minute,
	}
}

// podTemplate is what an operator would give with --kubernetes-pod-template.
func podTemplate() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "ml"}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"pool": "training"},
			Containers: []corev1.Container{{
				Name: executor.StepContainer,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")},
				},
				Env: []corev1.EnvVar{{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}, Key: "secret"},
				}}},
			}},
		},
	}
}

func newKubernetes(t *testing.T, cs *fake.Clientset, mutate ...func(*executor.KubernetesConfig)) *executor.Kubernetes {
	t.Helper()
	cfg := executor.KubernetesConfig{Namespace: ns, PollInterval: 2 * time.Millisecond, DeleteWait: time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	k, err := executor.NewKubernetes(cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// outcome is what the simulated cluster makes of a Job: the pod's step
// container state, the pod's own status, and the Job condition (none: it keeps running).
type outcome struct {
	container corev1.ContainerState
	podReason string
	condition batchv1.JobConditionType
	reason    string
}

func exited(code int32, reason string) outcome {
	cond := batchv1.JobComplete
	if code != 0 {
		cond = batchv1.JobFailed
	}
	return outcome{
		container: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}},
		condition: cond, reason: "BackoffLimitExceeded",
	}
}

var running = outcome{container: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}

// simulate plays the Job controller and the kubelet until the test ends: for
// every Job created it creates the pod (labelled as the controller does) in
// the state decide returns and sets the Job's condition.
func simulate(t *testing.T, cs *fake.Clientset, decide func(*batchv1.Job) outcome) {
	var mu sync.Mutex
	var queue []string
	cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		queue = append(queue, a.(k8stesting.CreateAction).GetObject().(*batchv1.Job).Name)
		return false, nil, nil // the tracker stores it
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			time.Sleep(time.Millisecond)
			mu.Lock()
			if len(queue) == 0 {
				mu.Unlock()
				continue
			}
			name := queue[0]
			mu.Unlock()
			job, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				continue // the reactor ran, the tracker has not stored it yet
			}
			mu.Lock()
			queue = queue[1:]
			mu.Unlock()
			applyOutcome(ctx, t, cs, job, decide(job))
		}
	}()
}

func applyOutcome(ctx context.Context, t *testing.T, cs *fake.Clientset, job *batchv1.Job, o outcome) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: job.Name + "-x7k2p", Namespace: ns,
			Labels: map[string]string{"batch.kubernetes.io/job-name": job.Name},
		},
		Status: corev1.PodStatus{
			Reason:            o.podReason,
			ContainerStatuses: []corev1.ContainerStatus{{Name: executor.StepContainer, State: o.container}},
		},
	}
	_ = cs.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Errorf("create pod: %v", err)
		return
	}
	if o.condition == "" {
		return
	}
	job = job.DeepCopy()
	job.Status.Conditions = []batchv1.JobCondition{{Type: o.condition, Status: corev1.ConditionTrue, Reason: o.reason, Message: "simulated"}}
	if _, err := cs.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("update job status: %v", err)
	}
}

// createdJobs records every Job sent to the API server.
func createdJobs(cs *fake.Clientset) func() []*batchv1.Job {
	var mu sync.Mutex
	var jobs []*batchv1.Job
	cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		jobs = append(jobs, a.(k8stesting.CreateAction).GetObject().(*batchv1.Job).DeepCopy())
		return false, nil, nil
	})
	return func() []*batchv1.Job {
		mu.Lock()
		defer mu.Unlock()
		return append([]*batchv1.Job(nil), jobs...)
	}
}

func TestKubernetesJobManifest(t *testing.T) {
	cs := fake.NewClientset()
	created := createdJobs(cs)
	simulate(t, cs, func(*batchv1.Job) outcome { return exited(0, "Completed") })
	k := newKubernetes(t, cs, func(c *executor.KubernetesConfig) {
		c.ServiceAccount = "mlops-steps"
		c.PodTemplate = podTemplate()
		c.DataClaim, c.DataDir = "mlops-data", "/var/lib/mlops"
	})
	var logs bytes.Buffer
	if res := k.Run(t.Context(), trainStep(), &logs); res.ExitCode != 0 || res.Err != nil {
		t.Fatalf("result = %+v, logs %q", res, logs.String())
	}
	jobs := created()
	if len(jobs) != 1 {
		t.Fatalf("created %d Jobs, want 1", len(jobs))
	}
	job := jobs[0]

	// The golden file shows the whole manifest; these are the promises.
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	checks := map[string]bool{
		"namespace":               job.Namespace == ns,
		"labels":                  job.Labels["mlops.dev/project"] == "churn" && job.Labels["mlops.dev/pipeline"] == "train" && job.Labels["mlops.dev/run"] == "12" && job.Labels["mlops.dev/step"] == "fit" && job.Labels["mlops.dev/attempt"] == "2",
		"pod labels":              job.Spec.Template.Labels["mlops.dev/run"] == "12" && job.Spec.Template.Labels["team"] == "ml",
		"service account":         pod.ServiceAccountName == "mlops-steps",
		"no retries of its own":   *job.Spec.BackoffLimit == 0 && pod.RestartPolicy == corev1.RestartPolicyNever,
		"deadline from timeout":   *job.Spec.ActiveDeadlineSeconds == 5400,
		"ttl":                     *job.Spec.TTLSecondsAfterFinished == 3600,
		"resources from template": c.Resources.Requests.Cpu().String() == "2" && c.Resources.Limits.Memory().String() == "8Gi",
		"image and escaped argv":  c.Image == "ghcr.io/acme/churn-train:1.4" && strings.Join(c.Command, " ") == "python train.py --lr $$(LR) --out $$MLOPS_OUTPUT_DIR",
		"env":                     envValue(c.Env, "MLOPS_PARAM_LR") == "0.01" && envValue(c.Env, "MLOPS_RUN_ID") == "churn/train/12",
		"template env kept":       c.Env[0].Name == "AWS_SECRET_ACCESS_KEY" && c.Env[0].ValueFrom != nil,
		"data claim at data dir":  pod.Volumes[0].PersistentVolumeClaim.ClaimName == "mlops-data" && c.VolumeMounts[0].MountPath == "/var/lib/mlops",
		"work dir":                c.WorkingDir == "/var/lib/mlops/churn/train/12/work",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: wrong in the created Job", what)
		}
	}

	got, err := yaml.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "kubernetes_job.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/executor -run TestKubernetesJobManifest -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the Job differs from %s (go test ./internal/executor -run TestKubernetesJobManifest -update rewrites it after a deliberate change):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func TestKubernetesResults(t *testing.T) {
	for name, tc := range map[string]struct {
		outcome  outcome
		exitCode int
		timedOut bool
		err      string // "" means none
	}{
		"succeeded":   {outcome: exited(0, "Completed")},
		"exit code 3": {outcome: exited(3, "Error"), exitCode: 3},
		"oom killed":  {outcome: exited(137, "OOMKilled"), exitCode: 137, err: "OOMKilled"},
		"deadline": {
			outcome:  outcome{container: running.container, condition: batchv1.JobFailed, reason: "DeadlineExceeded"},
			exitCode: -1, timedOut: true, err: "timed out",
		},
		"evicted": {
			outcome:  outcome{podReason: "Evicted", condition: batchv1.JobFailed, reason: "BackoffLimitExceeded"},
			exitCode: -1, err: "pod " + "mlops-train-12-fit-2-", // the message names the pod and its reason
		},
	} {
		t.Run(name, func(t *testing.T) {
			cs := fake.NewClientset()
			simulate(t, cs, func(*batchv1.Job) outcome { return tc.outcome })
			var logs bytes.Buffer
			res := newKubernetes(t, cs).Run(t.Context(), trainStep(), &logs)
			if res.ExitCode != tc.exitCode || res.TimedOut != tc.timedOut || (tc.err == "") != (res.Err == nil) ||
				(res.Err != nil && !strings.Contains(res.Err.Error(), tc.err)) {
				t.Fatalf("result = %+v, want exit code %d, timed out %v, error containing %q", res, tc.exitCode, tc.timedOut, tc.err)
			}
			if name == "evicted" && !strings.Contains(res.Err.Error(), "Evicted") {
				t.Fatalf("error %q does not say the pod was evicted", res.Err)
			}
			if tc.outcome.container.Terminated != nil && !strings.Contains(logs.String(), "fake logs") {
				t.Fatalf("logs = %q, want the pod's log", logs.String())
			}
		})
	}
}

// recorder is a runner.Observer keeping each step's final status and output.
type recorder struct {
	mu    sync.Mutex
	final map[string]runner.StepStatus
	logs  map[string]string
}

func (r *recorder) StepChanged(s runner.StepStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.final[s.Name] = s
}

func (r *recorder) Log(step string, _ int, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs[step] += string(p)
}

func TestKubernetesThroughTheRunner(t *testing.T) {
	cs := fake.NewClientset()
	simulate(t, cs, func(job *batchv1.Job) outcome {
		if job.Labels["mlops.dev/step"] == "evaluate" {
			return exited(2, "Error")
		}
		return exited(0, "Completed")
	})
	k := newKubernetes(t, cs)
	steps := []api.Step{
		{Name: "prepare", Command: []string{"prepare"}, Image: "busybox"},
		{Name: "evaluate", Command: []string{"evaluate"}, Image: "busybox", DependsOn: []string{"prepare"}},
		{Name: "publish", Command: []string{"publish"}, Image: "busybox", DependsOn: []string{"evaluate"}},
	}
	rec := &recorder{final: map[string]runner.StepStatus{}, logs: map[string]string{}}
	res := runner.Execute(t.Context(), runner.Run{ID: "churn/train/7", Steps: steps, WorkDir: t.TempDir()}, k, rec, runner.Options{})
	if res.State != runner.RunFailed {
		t.Fatalf("run = %+v, want failed", res)
	}
	want := map[string]runner.StepState{"prepare": runner.StateSucceeded, "evaluate": runner.StateFailed, "publish": runner.StateSkipped}
	for step, state := range want {
		if got := rec.final[step]; got.State != state {
			t.Errorf("step %s = %s (%s), want %s", step, got.State, got.Error, state)
		}
	}
	if e := rec.final["evaluate"].Error; e != "exit code 2" {
		t.Errorf("evaluate's error = %q, want exit code 2", e)
	}
	if rec.logs["prepare"] != "fake logs" {
		t.Errorf("prepare's log = %q, want the pod's log", rec.logs["prepare"])
	}
}

func TestKubernetesStepWithoutImage(t *testing.T) {
	cs := fake.NewClientset()
	s := trainStep()
	s.Image = ""
	res := newKubernetes(t, cs).Run(t.Context(), s, nil)
	for _, want := range []string{`step "fit" has no image`, "set the step's image", "--kubernetes-default-image"} {
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Fatalf("result = %+v, want an error saying %q", res, want)
		}
	}
	if jobs, _ := cs.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{}); len(jobs.Items) != 0 {
		t.Fatalf("created %d Jobs for a step it cannot run", len(jobs.Items))
	}

	// Through the runner the run fails before any step runs.
	steps := []api.Step{{Name: "prepare", Command: []string{"true"}, Image: "busybox"}, {Name: "fit", Command: []string{"true"}}}
	run := runner.Execute(t.Context(), runner.Run{ID: "p/q/1", Steps: steps, WorkDir: t.TempDir()}, newKubernetes(t, cs), nil, runner.Options{})
	if run.State != runner.RunFailed || !strings.Contains(run.Error, `step "fit" has no image`) {
		t.Fatalf("run = %s (%q), want failed naming the step", run.State, run.Error)
	}

	// A default image runs it.
	created := createdJobs(cs)
	simulate(t, cs, func(*batchv1.Job) outcome { return exited(0, "Completed") })
	k := newKubernetes(t, cs, func(c *executor.KubernetesConfig) { c.DefaultImage = "python:3.12-slim" })
	if res := k.Run(t.Context(), s, nil); res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("with a default image: %+v", res)
	}
	if img := created()[0].Spec.Template.Spec.Containers[0].Image; img != "python:3.12-slim" {
		t.Fatalf("image = %q, want the default", img)
	}
}

// waitFor polls until cond holds or fails the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// foregroundDeletes counts Job deletions that take the pods with them.
func foregroundDeletes(cs *fake.Clientset) int {
	n := 0
	for _, a := range cs.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.GetResource().Resource == "jobs" {
			if p := d.DeleteOptions.PropagationPolicy; p != nil && *p == metav1.DeletePropagationForeground {
				n++
			}
		}
	}
	return n
}

func TestKubernetesCancelDeletesTheJob(t *testing.T) {
	cs := fake.NewClientset()
	simulate(t, cs, func(*batchv1.Job) outcome { return running })
	ctx, cancel := context.WithCancel(t.Context())
	var logs bytes.Buffer
	done := make(chan executor.Result)
	go func() { done <- newKubernetes(t, cs).Run(ctx, trainStep(), &logs) }()
	waitFor(t, "the pod", func() bool {
		pods, _ := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
		return len(pods.Items) == 1
	})
	cancel()
	res := <-done
	if res.Err == nil || !strings.Contains(res.Err.Error(), "cancelled") || res.TimedOut {
		t.Fatalf("result = %+v, want cancelled", res)
	}
	if jobs, _ := cs.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{}); len(jobs.Items) != 0 {
		t.Fatalf("%d Jobs left after cancel", len(jobs.Items))
	}
	if foregroundDeletes(cs) != 1 {
		t.Fatalf("actions %v: want one foreground delete of the Job", cs.Actions())
	}
	if !strings.Contains(logs.String(), "fake logs") || !strings.Contains(logs.String(), "[mlopsd] cancelled: deleting Job") {
		t.Fatalf("logs = %q", logs.String())
	}
}

func TestKubernetesTimeoutDeletesTheJob(t *testing.T) {
	cs := fake.NewClientset()
	simulate(t, cs, func(*batchv1.Job) outcome { return running })
	s := trainStep()
	s.Timeout = 50 * time.Millisecond
	res := newKubernetes(t, cs).Run(t.Context(), s, nil)
	if !res.TimedOut || res.ExitCode != -1 || res.Err == nil {
		t.Fatalf("result = %+v, want timed out", res)
	}
	if foregroundDeletes(cs) != 1 {
		t.Fatalf("want the Job deleted, actions %v", cs.Actions())
	}
}

func TestKubernetesContainerThatCannotStart(t *testing.T) {
	waitingFor := func(reason string) outcome {
		return outcome{container: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "image \"ghcr.io/acme/nope\""}}}
	}
	for name, tc := range map[string]struct {
		reason string
		want   string
	}{
		"invalid image name":    {"InvalidImageName", "the container cannot start: InvalidImageName"},
		"pull back-off timeout": {"ImagePullBackOff", "the container did not start within 50ms: ImagePullBackOff"},
	} {
		t.Run(name, func(t *testing.T) {
			cs := fake.NewClientset()
			simulate(t, cs, func(*batchv1.Job) outcome { return waitingFor(tc.reason) })
			var logs bytes.Buffer
			k := newKubernetes(t, cs, func(c *executor.KubernetesConfig) { c.StartTimeout = 50 * time.Millisecond })
			res := k.Run(t.Context(), trainStep(), &logs)
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.want) {
				t.Fatalf("result = %+v, want %q", res, tc.want)
			}
			if !strings.Contains(logs.String(), "is waiting: "+tc.reason) {
				t.Fatalf("logs = %q, want the waiting reason", logs.String())
			}
			if foregroundDeletes(cs) != 1 {
				t.Fatalf("want the Job deleted, actions %v", cs.Actions())
			}
		})
	}
}

func TestKubernetesReplacesALeftoverJob(t *testing.T) {
	cs := fake.NewClientset()
	simulate(t, cs, func(*batchv1.Job) outcome { return exited(0, "Completed") })
	k := newKubernetes(t, cs)
	if res := k.Run(t.Context(), trainStep(), nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	// The same attempt again, as after a takeover: the old Job is in the way.
	var logs bytes.Buffer
	if res := k.Run(t.Context(), trainStep(), &logs); res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("second execution: %+v", res)
	}
	if !strings.Contains(logs.String(), "replacing Job") {
		t.Fatalf("logs = %q", logs.String())
	}

	// A Job of that name that mlopsd did not create is left alone.
	jobs, _ := cs.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{})
	foreign := jobs.Items[0].DeepCopy()
	foreign.Labels, foreign.ResourceVersion = nil, ""
	other := fake.NewClientset(foreign)
	if res := newKubernetes(t, other).Run(t.Context(), trainStep(), nil); res.Err == nil || !strings.Contains(res.Err.Error(), "that mlopsd did not create") {
		t.Fatalf("result = %+v", res)
	}
	if _, err := other.BatchV1().Jobs(ns).Get(t.Context(), foreign.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the foreign Job is gone: %v", err)
	}
}

func TestKubernetesJobDeletedBySomeoneElse(t *testing.T) {
	cs := fake.NewClientset()
	simulate(t, cs, func(job *batchv1.Job) outcome {
		go func() { _ = cs.BatchV1().Jobs(ns).Delete(context.Background(), job.Name, metav1.DeleteOptions{}) }()
		return running
	})
	res := newKubernetes(t, cs).Run(t.Context(), trainStep(), nil)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "was deleted before it finished") {
		t.Fatalf("result = %+v", res)
	}
}

func TestKubernetesPreflight(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		ra := r.Spec.ResourceAttributes
		r.Status.Allowed = ra.Namespace == ns && ra.Subresource != "log"
		return true, r, nil
	})
	err := newKubernetes(t, cs).Preflight(t.Context())
	if err == nil || !strings.Contains(err.Error(), `may not get pods/log in namespace "ml-jobs"`) {
		t.Fatalf("err = %v, want it to name the missing permission", err)
	}
}

func TestNewKubernetesRefusesSidecarContainers(t *testing.T) {
	tmpl := podTemplate()
	tmpl.Spec.Containers = append(tmpl.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy"})
	_, err := executor.NewKubernetes(fake.NewClientset(), executor.KubernetesConfig{Namespace: ns, PodTemplate: tmpl})
	if err == nil || !strings.Contains(err.Error(), `container "proxy"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadPodTemplate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("metadata:\n  labels: {team: ml}\nspec:\n  containers:\n  - name: step\n    resources:\n      limits: {memory: 8Gi}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl, err := executor.LoadPodTemplate(good)
	if err != nil || tmpl.Spec.Containers[0].Resources.Limits.Memory().String() != "8Gi" {
		t.Fatalf("template %+v, err %v", tmpl, err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("spec:\n  nodeSelectr: {pool: gpu}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := executor.LoadPodTemplate(typo); err == nil || !strings.Contains(err.Error(), "nodeSelectr") {
		t.Fatalf("err = %v, want the misspelt field named", err)
	}
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkTerraform measures what the provider costs Terraform: apply and
// plan (with refresh, nothing to change) of MLOPS_BENCH_TF_RESOURCES
// (default 200) mlops_model resources against an in-process mlopsd on
// SQLite, next to the same number of terraform_data resources holding the
// same attributes. terraform_data is Terraform's built-in no-op resource,
// so it is the floor: Terraform's own graph walk, state and plan rendering.
// Both run with -parallelism=10 (Terraform's default), in working
// directories side by side, taking turns, so that load on the machine hits
// both alike; each plan runs MLOPS_BENCH_TF_PLANS times (default 3) and the
// median counts.
//
// A third configuration holds floor_model resources of cmd/floorprovider:
// the same schema on the same framework, a provider that does nothing, so
// what the framework and the plugin protocol cost shows apart from what
// the mlops provider and server do.
//
// Reported per iteration: apply-s and plan-s (mlops_model), floor-apply-s
// and floor-plan-s (terraform_data), their ratios apply-ratio and
// plan-ratio; framework-plan-s (floor_model); empty-plan-s,
// floor-empty-plan-s and framework-empty-plan-s, plans of the same
// configurations with count = 0 (what a plan costs before its first
// resource), and per-resource-plan-ratio and
// framework-per-resource-plan-ratio, the ratios to terraform_data of the
// plans' times with those taken off; and the CPU time each took (…-cpu-s: Terraform, the provider
// and the in-process server; CPU time is less sensitive than wall time to
// other load on the machine). The provider is built from this checkout;
// Terraform is TF_ACC_TERRAFORM_PATH, else terraform on PATH, else the
// benchmark skips.
func BenchmarkTerraform(b *testing.B) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		p, err := exec.LookPath("terraform")
		if err != nil {
			b.Skip("no Terraform: set TF_ACC_TERRAFORM_PATH (make bench does)")
		}
		tf = p
	}
	n := benchEnv(b, "MLOPS_BENCH_TF_RESOURCES", 200)
	plans := benchEnv(b, "MLOPS_BENCH_TF_PLANS", 3)
	plugins := buildProviders(b)
	inst := startServer(b, "sqlite://"+filepath.Join(b.TempDir(), "mlops.db"))
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		mlops := newWorkdir(b, tf, plugins, inst, modelConfig(n, fmt.Sprintf("tf%d", i)))
		floor := newWorkdir(b, tf, plugins, inst, floorConfig(n))
		framework := newWorkdir(b, tf, plugins, inst, frameworkConfig(n))
		emptyMlops := newWorkdir(b, tf, plugins, inst, modelConfig(0, fmt.Sprintf("tf%d", i)))
		emptyFloor := newWorkdir(b, tf, plugins, inst, floorConfig(0))
		emptyFramework := newWorkdir(b, tf, plugins, inst, frameworkConfig(0))
		b.StartTimer()
		apply, floorApply := mlops.timed("apply", "-auto-approve"), floor.timed("apply", "-auto-approve")
		framework.timed("apply", "-auto-approve")
		var plan, floorPlan, frameworkPlan []run
		for range plans {
			floorPlan = append(floorPlan, floor.timed("plan", "-detailed-exitcode"))
			frameworkPlan = append(frameworkPlan, framework.timed("plan", "-detailed-exitcode"))
			plan = append(plan, mlops.timed("plan", "-detailed-exitcode"))
		}
		// The same with no resources: what every plan costs before the
		// first resource (Terraform starts a provider plugin three times
		// per plan, each with a fresh mTLS certificate; terraform_data is
		// built in and starts nothing).
		var empty, floorEmpty, frameworkEmpty []run
		for range plans {
			floorEmpty = append(floorEmpty, emptyFloor.timed("plan", "-detailed-exitcode"))
			frameworkEmpty = append(frameworkEmpty, emptyFramework.timed("plan", "-detailed-exitcode"))
			empty = append(empty, emptyMlops.timed("plan", "-detailed-exitcode"))
		}
		b.StopTimer()
		p, fp, wp := median(plan), median(floorPlan), median(frameworkPlan)
		e, fe, we := median(empty), median(floorEmpty), median(frameworkEmpty)
		b.ReportMetric(e.wall.Seconds(), "empty-plan-s")
		b.ReportMetric(fe.wall.Seconds(), "floor-empty-plan-s")
		b.ReportMetric(we.wall.Seconds(), "framework-empty-plan-s")
		b.ReportMetric((p.wall-e.wall).Seconds()/(fp.wall-fe.wall).Seconds(), "per-resource-plan-ratio")
		b.ReportMetric((wp.wall-we.wall).Seconds()/(fp.wall-fe.wall).Seconds(), "framework-per-resource-plan-ratio")
		b.ReportMetric(wp.wall.Seconds(), "framework-plan-s")
		b.ReportMetric(wp.cpu.Seconds(), "framework-plan-cpu-s")
		b.ReportMetric(float64(n), "resources")
		b.ReportMetric(apply.wall.Seconds(), "apply-s")
		b.ReportMetric(floorApply.wall.Seconds(), "floor-apply-s")
		b.ReportMetric(apply.wall.Seconds()/floorApply.wall.Seconds(), "apply-ratio")
		b.ReportMetric(apply.cpu.Seconds(), "apply-cpu-s")
		b.ReportMetric(floorApply.cpu.Seconds(), "floor-apply-cpu-s")
		b.ReportMetric(p.wall.Seconds(), "plan-s")
		b.ReportMetric(fp.wall.Seconds(), "floor-plan-s")
		b.ReportMetric(p.wall.Seconds()/fp.wall.Seconds(), "plan-ratio")
		b.ReportMetric(p.cpu.Seconds(), "plan-cpu-s")
		b.ReportMetric(fp.cpu.Seconds(), "floor-plan-cpu-s")
	}
}

// run is how long one terraform command took: wall time, and CPU time of
// Terraform, the provider and this process (the server).
type run struct{ wall, cpu time.Duration }

// median is the run with the median wall time.
func median(runs []run) run {
	slices.SortFunc(runs, func(a, b run) int { return int(a.wall - b.wall) })
	return runs[len(runs)/2]
}

// modelConfig declares n models named <prefix>-000, … in the default project.
func modelConfig(n int, prefix string) string { return modelsOf("mlops", n, prefix) }

// frameworkConfig declares n floor_model resources (cmd/floorprovider):
// mlops_model's schema and arguments on a provider that does nothing.
func frameworkConfig(n int) string { return modelsOf("floor", n, "m") }

// modelsOf declares n <provider>_model resources with a model's arguments.
func modelsOf(provider string, n int, prefix string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    %[1]s = { source = "mlopsplane/%[1]s" }
  }
}

resource "%[1]s_model" "m" {
  count       = %[2]d
  name        = format("%[3]s-%%03d", count.index)
  description = "Predicts churn in the next 30 days"
  labels      = { team = "growth", tier = "gold" }
  gates       = [{ metric = "auc", op = ">=", threshold = 0.8 }]
}
`, provider, n, prefix)
}

// floorConfig declares n terraform_data resources holding what a model holds.
func floorConfig(n int) string {
	return fmt.Sprintf(`resource "terraform_data" "m" {
  count = %d
  input = {
    name        = format("m-%%03d", count.index)
    description = "Predicts churn in the next 30 days"
    labels      = { team = "growth", tier = "gold" }
    gates       = [{ metric = "auc", op = ">=", threshold = 0.8 }]
  }
}
`, n)
}

// buildProviders builds, into one directory, the provider from this
// checkout as releases are built (.goreleaser.yml: static, -trimpath, no
// symbol tables), which users run, and the do-nothing floor provider
// (cmd/floorprovider) the same way; it returns the directory.
func buildProviders(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	for bin, pkg := range map[string]string{"terraform-provider-mlops": "../..", "terraform-provider-floor": "./cmd/floorprovider"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, bin), pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir
}

// tfdir is a Terraform working directory using the provider built here
// (dev_overrides: no terraform init) against one server.
type tfdir struct {
	b   *testing.B
	dir string
	bin string
	env []string
}

func newWorkdir(b *testing.B, tf, plugins string, inst *instance, config string) *tfdir {
	b.Helper()
	dir := b.TempDir()
	rc := filepath.Join(dir, "dev.tfrc")
	files := map[string]string{
		rc: fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n    %q = %q\n  }\n  direct {}\n}\n",
			"registry.terraform.io/mlopsplane/mlops", plugins, "registry.terraform.io/mlopsplane/floor", plugins),
		filepath.Join(dir, "main.tf"): config,
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MLOPS_") && !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"MLOPS_ENDPOINT="+inst.url, "MLOPS_TOKEN="+inst.token)
	return &tfdir{b: b, dir: dir, bin: tf, env: env}
}

// timed runs one terraform command to success and measures it. A plan must
// find nothing to change (-detailed-exitcode exits 0).
func (w *tfdir) timed(command string, args ...string) run {
	w.b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, append([]string{command, "-no-color", "-parallelism=10"}, args...)...)
	cmd.Dir, cmd.Env = w.dir, w.env
	self := selfCPU()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r := run{wall: time.Since(start), cpu: selfCPU() - self}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 2 {
			w.b.Fatalf("terraform %s in %s: changes left to make after apply\n%s", command, w.dir, tail(out))
		}
		w.b.Fatalf("terraform %s in %s: %v\n%s", command, w.dir, err, tail(out))
	}
	// Terraform waits for its provider processes, so its usage includes theirs.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tail is the end of a command's output, where Terraform puts its errors.
func tail(out []byte) string {
	const keep = 4000
	if len(out) > keep {
		return "…" + string(out[len(out)-keep:])
	}
	return string(out)
}

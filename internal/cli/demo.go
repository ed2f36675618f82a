package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// The names examples/quickstart/main.tf declares, which the demo watches.
const (
	demoProject    = "quickstart"
	demoPipeline   = "train"
	demoModel      = "churn-classifier"
	demoAlias      = "champion"
	demoDataset    = "churn"
	demoDeployment = "churn-api"
	demoMonitor    = "churn-inputs"
	demoSchedule   = "nightly"
	quickstartDir  = "examples/quickstart"
)

// demoVars are the quickstart variables the demo sets: runs promote to
// champion, the alias the deployment follows, so a retrained version reaches
// it without a human; the monitor evaluates every 10s instead of every hour,
// and canary steps bake 10s instead of a minute, so the loop closes in minutes.
var demoVars = [][2]string{{"promote_to", demoAlias}, {"monitor_interval", "10s"}, {"canary_step_interval", "10s"}}

// demoFeatures are the columns the quickstart's monitor compares.
var demoFeatures = []string{"tenure_months", "monthly_spend", "plan", "support_tickets"}

const (
	// demoRate is the traffic's requests per second: a canary step at 10 %
	// needs min_requests (20) within its 10s, with room for a loaded machine.
	demoRate = 40
	// demoPoll is how often the observer reads the server.
	demoPoll = 500 * time.Millisecond
)

type demoOptions struct {
	terraform, provider, repository string
	keepRunning, exit               bool
}

func newDemo() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Apply examples/quickstart against a throwaway mlopsd and narrate the whole loop (make demo)",
		Long: "Start `mlopsd serve` on SQLite in a temporary directory, apply examples/quickstart to it with Terraform and the\n" +
			"locally built provider (dev_overrides: nothing is downloaded), then narrate: a training run and the version it\n" +
			"registers, its gates and the alias it moves; the deployment answering through the gateway and rolling the new\n" +
			"version out as a canary; traffic with churn.csv's customers, then drifted ones; the monitor turning drifting,\n" +
			"the retraining run it starts, and that version's canary. A stage that does not happen in time fails the demo\n" +
			"(exit 1, naming the stage and what was last seen). After the summary the server keeps running until Ctrl-C when\n" +
			"stdin is a terminal (--keep-running); with --exit or CI=true it stops. Either way the temporary directory goes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.exit {
				o.keepRunning = false
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.terraform, "terraform", "", "terraform binary (default: terraform on PATH, else bin/terraform of the checkout)")
	cmd.Flags().StringVar(&o.provider, "provider", "", "provider binary (default: terraform-provider-mlops beside this mlopsd, else bin/ of the checkout)")
	cmd.Flags().StringVar(&o.repository, "repository", "", "checkout of terraform-provider-mlops whose examples/ to run (default: the one the working directory is in)")
	cmd.Flags().BoolVar(&o.keepRunning, "keep-running", keepRunningDefault(os.Getenv("CI"), stdinIsTerminal()),
		"leave mlopsd running after the summary until Ctrl-C (default: when stdin is a terminal and CI is not true)")
	cmd.Flags().BoolVar(&o.exit, "exit", false, "stop and clean up after the summary (same as --keep-running=false)")
	return cmd
}

func keepRunningDefault(ci string, tty bool) bool { return tty && ci != "true" }

func stdinIsTerminal() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// demo is one run of `mlopsd demo`.
type demo struct {
	o                  demoOptions
	n                  *narrator
	errOut             io.Writer
	self, tf, provider string
	tmp, work          string // scratch directory; the quickstart's copy in it

	server     *exec.Cmd
	serverDone chan struct{} // closed when the server exited
	serverErr  error
	// bg ends when the demo stops: the observer and the traffic run in it.
	bg         context.Context
	stopBg     context.CancelFunc
	url, token string
	c          *client.Client
	obs        *observer
	traffic    *traffic
	stopTraf   context.CancelFunc
	trafDone   chan struct{}

	stages []stageResult
}

type stageResult struct {
	name, outcome string
	took          time.Duration
}

// stageError is a stage that failed or did not happen in time.
type stageError struct{ stage, msg string }

func (e *stageError) Error() string {
	return fmt.Sprintf("demo failed at stage %q: %s", e.stage, e.msg)
}

func runDemo(ctx context.Context, o demoOptions, out, errOut io.Writer) (err error) {
	d := &demo{o: o, n: newNarrator(out), errOut: errOut}
	if err := d.resolve(); err != nil {
		return err
	}
	if d.tmp, err = os.MkdirTemp("", "mlops-demo-"); err != nil {
		return err
	}
	d.work = filepath.Join(d.tmp, "quickstart")
	d.bg, d.stopBg = context.WithCancel(context.Background())
	defer func() {
		if err != nil && ctx.Err() == nil { // an interruption needs no diagnosis
			d.diagnose()
		}
		d.cleanup()
	}()
	d.n.say("mlopsd demo: examples/quickstart end to end, a few minutes; scratch directory %s (removed at the end)", d.tmp)
	d.n.say("terraform %s, provider %s", d.tf, d.provider)

	type step struct {
		name     string
		deadline time.Duration
		fn       func(context.Context, *progress) (string, error)
	}
	var trainedVersion, retrainRun, retrainedVersion int64
	steps := []step{
		{"start mlopsd", time.Minute, d.startServer},
		{"terraform apply", 5 * time.Minute, d.apply},
		{"predict through the gateway", time.Minute, d.gateway},
		{"training run", 4 * time.Minute, func(ctx context.Context, p *progress) (string, error) {
			run, err := d.c.CreateRun(ctx, demoProject, demoPipeline, nil)
			if err != nil {
				return "", err
			}
			d.n.say("POST /v1/projects/%s/pipelines/%s/runs started run %d, as the quickstart README's curl does", demoProject, demoPipeline, run.ID)
			r, err := d.awaitRun(ctx, p, run.ID, "manual")
			if err != nil {
				return "", err
			}
			trainedVersion = r.ModelVersion
			return runOutcome(r), nil
		}},
		{"canary of the trained version", 3 * time.Minute, func(ctx context.Context, p *progress) (string, error) {
			return d.awaitCanary(ctx, p, trainedVersion)
		}},
		{"monitor on normal traffic", 2 * time.Minute, d.awaitNormal},
		{"drift", 2 * time.Minute, func(ctx context.Context, p *progress) (string, error) {
			mark := d.lastEvaluation()
			d.traffic.drift.Store(true)
			d.n.say("the traffic switches to drifted customers: 1-4 months of tenure, 160-260 a month, 5-9 support tickets, mostly enterprise")
			ev, err := d.awaitDrift(ctx, p, mark)
			if err != nil {
				return "", err
			}
			retrainRun = ev.RetrainRun.ID
			return fmt.Sprintf("evaluation %d: %d of %d features drifted, alert raised, run %d started", ev.ID, ev.DriftedFeatures, ev.JudgedFeatures, retrainRun), nil
		}},
		{"retraining run", 4 * time.Minute, func(ctx context.Context, p *progress) (string, error) {
			r, err := d.awaitRun(ctx, p, retrainRun, "monitor:"+demoMonitor)
			if err != nil {
				return "", err
			}
			retrainedVersion = r.ModelVersion
			return runOutcome(r), nil
		}},
		{"canary of the retrained version", 3 * time.Minute, func(ctx context.Context, p *progress) (string, error) {
			return d.awaitCanary(ctx, p, retrainedVersion)
		}},
	}
	for i, s := range steps {
		if err := d.stage(ctx, fmt.Sprintf("%d/%d %s", i+1, len(steps), s.name), s.deadline, s.fn); err != nil {
			return err
		}
	}
	d.stopTraffic()
	d.summary()
	if !d.o.keepRunning {
		return nil
	}
	return d.keepRunning(ctx)
}

// resolve finds the checkout, terraform and the provider before anything starts.
func (d *demo) resolve() error {
	var err error
	if d.self, err = os.Executable(); err != nil {
		return err
	}
	if d.o.repository == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if d.o.repository, err = findCheckout(wd); err != nil {
			return err
		}
	}
	if d.o.repository, err = filepath.Abs(d.o.repository); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(d.o.repository, quickstartDir, "main.tf")); err != nil {
		return fmt.Errorf("--repository %s holds no %s/main.tf: pass a checkout of terraform-provider-mlops", d.o.repository, quickstartDir)
	}
	bin := filepath.Join(d.o.repository, "bin")
	if d.tf, err = findTool(d.o.terraform, "terraform", []string{filepath.Join(bin, "terraform")}, true); err != nil {
		return fmt.Errorf("%w; install Terraform or run `make demo`, which builds v1.5.7 into bin/", err)
	}
	if d.provider, err = findTool(d.o.provider, "terraform-provider-mlops",
		[]string{filepath.Join(filepath.Dir(d.self), "terraform-provider-mlops"), filepath.Join(bin, "terraform-provider-mlops")}, false); err != nil {
		return fmt.Errorf("%w; build it with `make build`", err)
	}
	// The quickstart's training step and model server are `go run`s.
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("the quickstart's pipeline and model server run `go`: put Go on PATH")
	}
	return nil
}

// findCheckout walks up from dir to the checkout holding examples/quickstart.
func findCheckout(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, quickstartDir, "main.tf")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not in a checkout of terraform-provider-mlops (no %s above it): run from one or pass --repository", dir, quickstartDir)
		}
	}
}

// findTool is flag when set, else name on PATH (when onPath), else the first
// candidate that exists.
func findTool(flag, name string, candidates []string, onPath bool) (string, error) {
	if flag != "" {
		p, err := exec.LookPath(flag)
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", name, flag, err)
		}
		return filepath.Abs(p)
	}
	if onPath {
		if p, err := exec.LookPath(name); err == nil {
			return filepath.Abs(p)
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("no %s found (looked on PATH and in %s)", name, strings.Join(candidates, ", "))
}

// progress is what a stage last saw, for the message when it times out.
type progress struct {
	mu   sync.Mutex
	last string
}

func (p *progress) see(s string) {
	p.mu.Lock()
	p.last = s
	p.mu.Unlock()
}

func (p *progress) seen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == "" {
		return "nothing yet"
	}
	return p.last
}

// stage runs fn within its deadline and records its outcome for the summary.
// An error names the stage; a timeout also says what was last seen.
func (d *demo) stage(ctx context.Context, name string, deadline time.Duration, fn func(context.Context, *progress) (string, error)) error {
	d.n.heading(name)
	sctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	p := &progress{}
	start := time.Now()
	outcome, err := fn(sctx, p)
	switch {
	case err == nil:
		took := time.Since(start)
		d.stages = append(d.stages, stageResult{name: name, outcome: outcome, took: took})
		d.n.say("done in %s: %s", formatDuration(took), outcome)
		return nil
	case ctx.Err() != nil:
		return &stageError{stage: name, msg: "interrupted"}
	case sctx.Err() != nil:
		return &stageError{stage: name, msg: fmt.Sprintf("did not happen within %s; last seen: %s", deadline, p.seen())}
	default:
		return &stageError{stage: name, msg: err.Error()}
	}
}

// await checks cond every poll interval until it is done or fails, the
// server exits, or ctx ends. What cond reports seeing is kept in p.
func (d *demo) await(ctx context.Context, p *progress, cond func() (done bool, seen string, err error)) error {
	for {
		done, seen, err := cond()
		if seen != "" {
			p.see(seen)
		}
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.serverDone:
			return fmt.Errorf("mlopsd exited (%w) while waiting; last seen: %s", d.serverExit(), p.seen())
		case <-time.After(demoPoll / 2):
		}
	}
}

// serveURL finds the address in mlopsd's "mlopsd serving" log line.
var serveURL = regexp.MustCompile(`url=(https?://[^\s"]+)\s`)

// startServer runs this binary's `serve` on SQLite in the scratch directory,
// on a free loopback port, with a fresh admin token.
func (d *demo) startServer(ctx context.Context, p *progress) (string, error) {
	if err := copyQuickstart(filepath.Join(d.o.repository, quickstartDir), d.work); err != nil {
		return "", err
	}
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	d.token = "demo-" + hex.EncodeToString(secret)
	logf, err := os.Create(filepath.Join(d.tmp, "mlopsd.log"))
	if err != nil {
		return "", err
	}
	found := make(chan string, 1)
	tee := &logTee{w: logf, found: found}
	db := filepath.Join(d.tmp, "mlops.db")
	// The data root is the quickstart's copy: its dataset's file lies there.
	cmd := exec.Command(d.self, "serve", "--listen", "127.0.0.1:0", "--database", "sqlite://"+db, "--executor", "local",
		"--data-dir", filepath.Join(d.tmp, "data"), "--data-root", d.work, "--shutdown-timeout", "10s")
	cmd.Env = append(environWithout("MLOPSD_", "MLOPS_"), EnvAdminToken+"="+d.token)
	cmd.Stdout, cmd.Stderr = tee, tee
	// Its own process group: Ctrl-C in the terminal reaches the demo, which
	// stops the server in order, and not the server directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", err
	}
	d.server = cmd
	d.serverDone = make(chan struct{})
	go func() {
		d.serverErr = cmd.Wait()
		logf.Close()
		close(d.serverDone)
	}()
	p.see("waiting for mlopsd to log its address")
	select {
	case d.url = <-found:
	case <-d.serverDone:
		return "", fmt.Errorf("mlopsd exited at start: %w", d.serverExit())
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if d.c, err = client.New(client.Config{Endpoint: d.url, Token: d.token, UserAgent: "mlopsd-demo"}); err != nil {
		return "", err
	}
	err = d.await(ctx, p, func() (bool, string, error) {
		// Not ready yet is no failure: the deadline decides.
		notReady := d.c.Ready(ctx)
		if notReady == nil {
			return true, "", nil
		}
		return false, notReady.Error(), nil
	})
	if err != nil {
		return "", err
	}
	d.n.say("mlopsd %d serves %s: SQLite at %s, executor local, log in %s", cmd.Process.Pid, d.url, db, logf.Name())
	return d.url + ", SQLite, an admin token made for the demo", nil
}

// logTee writes the server's log to a file and reports the address it serves at.
type logTee struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	found chan<- string
}

func (t *logTee) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.found != nil {
		t.buf = append(t.buf, b...)
		if m := serveURL.FindSubmatch(t.buf); m != nil {
			t.found <- string(m[1])
			t.found, t.buf = nil, nil
		} else if len(t.buf) > 1<<16 {
			t.buf = t.buf[len(t.buf)-1<<12:]
		}
	}
	return t.w.Write(b)
}

// copyQuickstart copies the example's files, leaving out any Terraform state
// or working directory a user left there.
func copyQuickstart(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".terraform") || strings.HasPrefix(name, "terraform.tfstate") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, name), raw, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// environWithout is this process's environment minus variables with the
// prefixes, so a user's own settings do not point the demo elsewhere.
func environWithout(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return env
}

// apply runs terraform apply on the quickstart's copy. The provider comes
// from dev_overrides, so there is no terraform init and no download.
func (d *demo) apply(ctx context.Context, p *progress) (string, error) {
	provDir := filepath.Join(d.tmp, "provider")
	if err := os.MkdirAll(provDir, 0o755); err != nil {
		return "", err
	}
	// dev_overrides wants a directory holding terraform-provider-mlops.
	if err := os.Symlink(d.provider, filepath.Join(provDir, "terraform-provider-mlops")); err != nil {
		return "", err
	}
	rc := filepath.Join(d.tmp, "terraform.rc")
	if err := os.WriteFile(rc, []byte(devOverrides(provDir)), 0o644); err != nil {
		return "", err
	}
	args := []string{"apply", "-auto-approve", "-input=false", "-no-color", "-var", "repository=" + d.o.repository}
	shown := []string{}
	for _, kv := range demoVars {
		args = append(args, "-var", kv[0]+"="+kv[1])
		shown = append(shown, kv[0]+"="+kv[1])
	}
	d.n.say("terraform apply in %s with %s", d.work, strings.Join(shown, ", "))
	cmd := exec.CommandContext(ctx, d.tf, args...)
	cmd.Dir = d.work
	cmd.Env = append(environWithout("TF_", "MLOPS_"), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_INPUT=0",
		"CHECKPOINT_DISABLE=1", "MLOPS_ENDPOINT="+d.url, "MLOPS_TOKEN="+d.token)
	// One interrupt lets terraform stop cleanly; its own process group keeps
	// a Ctrl-C in the terminal from adding a second, which makes it quit at once.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	lines, err := d.streamTerraform(cmd, p)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		msg := strings.Join(terraformErrors(lines), "; ")
		if msg == "" {
			msg = strings.Join(lines[max(0, len(lines)-15):], "\n")
		}
		if msg == "" {
			msg = "it printed nothing"
		}
		return "", fmt.Errorf("terraform apply: %w: %s", err, msg)
	}
	created := 0
	for _, l := range lines {
		if strings.Contains(l, ": Creation complete after ") {
			created++
		}
	}
	return d.inventory(ctx, created)
}

func devOverrides(dir string) string {
	return fmt.Sprintf(`provider_installation {
  dev_overrides {
    "mlopsplane/mlops" = %q
  }
  direct {}
}
`, dir)
}

// streamTerraform runs cmd, narrating resources as they are created, and
// returns every line it printed (also kept in terraform.log).
func (d *demo) streamTerraform(cmd *exec.Cmd, p *progress) ([]string, error) {
	logf, err := os.Create(filepath.Join(d.tmp, "terraform.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	w.Close()
	var lines []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		lines = append(lines, line)
		if s, ok := terraformProgress(line); ok {
			d.n.say("%s", s)
			p.see(s)
		}
	}
	r.Close()
	return lines, cmd.Wait()
}

var (
	tfCreated  = regexp.MustCompile(`^(\S+): Creation complete after (\S+)(?: \[id=(.*)\])?$`)
	tfCreating = regexp.MustCompile(`^(\S+): Still creating\.\.\. \[(\S+) elapsed\]$`)
)

// terraformProgress turns a line of terraform's output worth narrating into
// the line to say.
func terraformProgress(line string) (string, bool) {
	if m := tfCreated.FindStringSubmatch(line); m != nil {
		return fmt.Sprintf("  created %s in %s", m[1], m[2]), true
	}
	if m := tfCreating.FindStringSubmatch(line); m != nil {
		return fmt.Sprintf("  %s still creating after %s", m[1], m[2]), true
	}
	if strings.HasPrefix(line, "Apply complete!") || strings.HasPrefix(line, "Warning: Provider development overrides") {
		return line, true
	}
	return "", false
}

// terraformErrors squeezes each "Error:" diagnostic of terraform's output,
// with its first lines of detail, onto one line.
func terraformErrors(lines []string) []string {
	var errs []string
	for i, l := range lines {
		l = strings.TrimSpace(strings.TrimLeft(l, "│╷╵ "))
		if !strings.HasPrefix(l, "Error: ") {
			continue
		}
		msg := []string{l}
		for _, next := range lines[i+1 : min(i+10, len(lines))] {
			next = strings.TrimSpace(strings.TrimLeft(next, "│╷╵ "))
			if strings.HasPrefix(next, "Error: ") {
				break
			}
			if next != "" && !strings.HasPrefix(next, "with ") && !strings.HasPrefix(next, "on ") {
				msg = append(msg, next)
			}
		}
		errs = append(errs, strings.Join(msg, " "))
	}
	return errs
}

// inventory narrates what the apply created, as the server reports it.
func (d *demo) inventory(ctx context.Context, created int) (string, error) {
	ds, err := d.c.GetDataset(ctx, demoProject, demoDataset)
	if err != nil {
		return "", err
	}
	d.n.say("dataset %s v%d: %d rows checked against its schema and profiled (the monitor's baseline)", ds.Name, ds.Version, ds.RowCount)
	m, err := d.c.GetModel(ctx, demoProject, demoModel)
	if err != nil {
		return "", err
	}
	champion := m.Aliases[demoAlias]
	v, err := d.c.GetModelVersion(ctx, demoProject, demoModel, champion)
	if err != nil {
		return "", err
	}
	d.n.say("model %s with %d gates; v%d declared by hand, %s -> v%d:", m.Name, len(m.Gates), v.Version, demoAlias, champion)
	for _, g := range v.GateResults {
		d.n.say("  %s", gateLine(g))
	}
	s, err := d.c.GetSchedule(ctx, demoProject, demoSchedule)
	if err != nil {
		return "", err
	}
	d.n.say("schedule %s runs pipeline %s at %q %s, next %s", s.Name, s.Pipeline, s.Cron, s.Timezone, formatTime(s.NextRunAt))
	dep, err := d.c.GetDeployment(ctx, demoProject, demoDeployment)
	if err != nil {
		return "", err
	}
	d.n.say("deployment %s follows %s, %s; url %s", dep.Name, dep.Alias, deploymentLine(dep), dep.URL)
	mon, err := d.c.GetMonitor(ctx, demoProject, demoMonitor)
	if err != nil {
		return "", err
	}
	d.n.say("monitor %s compares %s's logged requests with dataset %s every %s; drifting starts schedule %s's pipeline",
		mon.Name, mon.Deployment, mon.BaselineDataset, mon.Interval, mon.RetrainSchedule)
	// From here on the observer narrates every change it sees.
	d.obs = newObserver(d.c, d.n)
	if err := d.obs.poll(ctx, true); err != nil {
		return "", err
	}
	go d.obs.run(d.bg, demoPoll)
	return fmt.Sprintf("%d resources; deployment %s serving v%d", created, dep.Phase, dep.StableVersion), nil
}

// gateway asks the deployment for a prediction as the README's curl does,
// with a viewer token of the project (all the gateway asks for), then starts
// the traffic with churn.csv's customers.
func (d *demo) gateway(ctx context.Context, _ *progress) (string, error) {
	tok, err := d.c.CreateToken(ctx, api.CreateTokenRequest{Role: api.RoleViewer, Project: demoProject, Description: "mlopsd demo traffic"})
	if err != nil {
		return "", err
	}
	d.n.say("created a viewer token for project %s: reading the project is all the gateway asks of a caller", demoProject)
	dep, err := d.c.GetDeployment(ctx, demoProject, demoDeployment)
	if err != nil {
		return "", err
	}
	rows, err := trafficRows(filepath.Join(d.work, "churn.csv"), demoFeatures)
	if err != nil {
		return "", err
	}
	normal, err := predictBody(rows)
	if err != nil {
		return "", err
	}
	drifted, err := predictBody(driftedRows(len(rows), 1))
	if err != nil {
		return "", err
	}
	d.traffic = newTraffic(dep.URL, tok.Secret, normal, drifted)
	one, err := predictBody([]map[string]any{{"tenure_months": 3, "monthly_spend": 120, "plan": "basic", "support_tickets": 4}})
	if err != nil {
		return "", err
	}
	start := time.Now()
	version, churned, _, err := d.traffic.predict(ctx, one)
	if err != nil {
		return "", fmt.Errorf("POST %s/predict: %w", dep.URL, err)
	}
	took := time.Since(start)
	d.n.say("POST %s/predict {tenure_months: 3, monthly_spend: 120, plan: basic, support_tickets: 4}", dep.URL)
	d.n.say("  answered by v%d (X-Mlops-Version) in %s: churned=%t", version, formatDuration(took), churned == 1)
	if version != dep.StableVersion {
		return "", fmt.Errorf("the answer came from v%d, not the stable v%d", version, dep.StableVersion)
	}
	tctx, cancel := context.WithCancel(d.bg)
	d.stopTraf, d.trafDone = cancel, make(chan struct{})
	go func() {
		defer close(d.trafDone)
		d.traffic.run(tctx, demoRate)
	}()
	go func() {
		for {
			select {
			case <-tctx.Done():
				return
			case <-time.After(10 * time.Second):
				d.n.say("%s", d.traffic.report())
			}
		}
	}()
	d.n.say("traffic starts: about %d requests a second, each scoring churn.csv's 120 customers; the gateway logs a tenth for the monitor", demoRate)
	return fmt.Sprintf("v%d answered in %s; traffic started", version, formatDuration(took)), nil
}

func (d *demo) stopTraffic() {
	if d.stopTraf != nil {
		d.stopTraf()
		<-d.trafDone
		d.stopTraf = nil
	}
}

// awaitRun waits for a run to succeed, register a version and promote it.
func (d *demo) awaitRun(ctx context.Context, p *progress, id int64, trigger string) (api.PipelineRun, error) {
	var run api.PipelineRun
	err := d.await(ctx, p, func() (bool, string, error) {
		r, ok := d.obs.snapshot().runs[id]
		switch {
		case !ok:
			return false, fmt.Sprintf("run %d not listed yet", id), nil
		case !api.RunFinished(r.State):
			return false, fmt.Sprintf("run %d %s%s", id, r.State, stepStates(r)), nil
		case r.Trigger != trigger:
			return false, "", fmt.Errorf("run %d has trigger %q, want %q", id, r.Trigger, trigger)
		case r.State != api.RunSucceeded:
			return false, "", fmt.Errorf("run %d %s%s%s", id, r.State, colonDetail(r.Error), stepTails(r))
		case r.ModelVersion == 0:
			return false, "", fmt.Errorf("run %d succeeded but registered no model version", id)
		case r.Promotion == nil || !r.Promotion.Promoted:
			return false, "", fmt.Errorf("run %d registered v%d without promoting it: %s", id, r.ModelVersion, promotionLine(r))
		}
		run = r
		return true, "", nil
	})
	return run, err
}

func stepStates(r api.PipelineRun) string {
	var parts []string
	for _, s := range r.Steps {
		parts = append(parts, "step "+s.Name+" "+s.State)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// stepTails is the end of each failed step's output.
func stepTails(r api.PipelineRun) string {
	var b strings.Builder
	for _, s := range r.Steps {
		if s.State == api.RunFailed && s.LogTail != "" {
			lines := strings.Split(strings.TrimRight(s.LogTail, "\n"), "\n")
			fmt.Fprintf(&b, "\nstep %s ended with:\n  %s", s.Name, strings.Join(lines[max(0, len(lines)-10):], "\n  "))
		}
	}
	return b.String()
}

func runOutcome(r api.PipelineRun) string {
	took := ""
	if r.StartedAt != nil && r.FinishedAt != nil {
		took = " in " + formatDuration(r.FinishedAt.Sub(*r.StartedAt))
	}
	return fmt.Sprintf("run %d (%s) succeeded%s: v%d passed its gates, %s -> v%d", r.ID, r.Trigger, took, r.ModelVersion, r.Promotion.Alias, r.ModelVersion)
}

// awaitCanary waits until version went through the canary steps and became
// the stable version; a rollback fails at once with the controller's reason.
func (d *demo) awaitCanary(ctx context.Context, p *progress, version int64) (string, error) {
	before := d.traffic.totals()
	var weights []int
	err := d.await(ctx, p, func() (bool, string, error) {
		s := d.obs.snapshot()
		dep := s.deployment
		if dep == nil {
			return false, "", nil
		}
		seen := "deployment " + deploymentLine(dep)
		switch {
		case dep.RolledBackVersion == version || dep.Phase == api.PhaseDegraded && dep.CanaryVersion == version:
			return false, seen, fmt.Errorf("v%d did not roll out: %s", version, deploymentLine(dep))
		case dep.StableVersion == version && dep.CanaryVersion == 0 && dep.Phase == api.PhaseHealthy:
			if weights = s.canaries[version]; len(weights) == 0 {
				return false, seen, fmt.Errorf("v%d became stable without a canary step being seen", version)
			}
			return true, seen, nil
		}
		return false, seen, nil
	})
	if err != nil {
		return "", err
	}
	after := d.traffic.totals()
	served := after.byVersion[version] - before.byVersion[version]
	steps := make([]string, len(weights))
	for i, w := range weights {
		steps[i] = strconv.Itoa(w) + "%"
	}
	return fmt.Sprintf("v%d canary at %s, then stable; it answered %d of %d requests meanwhile, %d errors",
		version, strings.Join(steps, " -> "), served, after.requests-before.requests, after.errors-before.errors), nil
}

func (d *demo) lastEvaluation() int64 {
	evals := d.obs.snapshot().evals
	if len(evals) == 0 {
		return 0
	}
	return evals[len(evals)-1].ID
}

// awaitNormal waits for an evaluation of churn.csv's customers to say ok; a
// drifting one means the monitor would alert on healthy traffic.
func (d *demo) awaitNormal(ctx context.Context, p *progress) (string, error) {
	var ok api.MonitorEvaluation
	err := d.await(ctx, p, func() (bool, string, error) {
		seen := "no evaluation yet"
		for _, ev := range d.obs.snapshot().evals {
			seen = evaluationLine(&ev)
			switch ev.Status {
			case api.MonitorDrifting:
				return false, seen, fmt.Errorf("the monitor drifted on churn.csv's own customers: %s", seen)
			case api.MonitorOK:
				ok = ev
				return true, seen, nil
			}
		}
		return false, seen, nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("evaluation %d ok: %d of %d features drifted over %d logged rows", ok.ID, ok.DriftedFeatures, ok.JudgedFeatures, ok.CurrentRows), nil
}

// awaitDrift waits for an evaluation after mark to turn drifting, alert and
// start a retraining run.
func (d *demo) awaitDrift(ctx context.Context, p *progress, mark int64) (*api.MonitorEvaluation, error) {
	var found *api.MonitorEvaluation
	err := d.await(ctx, p, func() (bool, string, error) {
		seen := fmt.Sprintf("no evaluation after %d yet", mark)
		for _, ev := range d.obs.snapshot().evals {
			if ev.ID <= mark {
				continue
			}
			seen = evaluationLine(&ev)
			if ev.Status != api.MonitorDrifting {
				continue
			}
			if !ev.Alert || ev.RetrainRun == nil {
				return false, seen, fmt.Errorf("the monitor drifted but started no retraining run: %s", seen)
			}
			found = &ev
			return true, seen, nil
		}
		return false, seen, nil
	})
	return found, err
}

// summary prints a table of the stages and where to go next.
func (d *demo) summary() {
	total := d.n.elapsed()
	t := d.traffic.totals()
	d.n.heading("summary")
	w := d.n.w
	d.n.mu.Lock()
	defer d.n.mu.Unlock()
	tw := newTable(w, "STAGE", "TOOK", "WHAT HAPPENED")
	for _, s := range d.stages {
		row(tw, s.name, formatDuration(s.took), s.outcome)
	}
	row(tw, "total", formatDuration(total), fmt.Sprintf("%d requests through the gateway (%s), %d errors", t.requests, t.versions(), t.errors))
	_ = tw.Flush()
	fmt.Fprintf(w, "\nDashboard: %s/ui\n", d.url)
}

// keepRunning leaves the server up until Ctrl-C (or SIGTERM).
func (d *demo) keepRunning(ctx context.Context) error {
	d.n.say("mlopsd keeps running at %s until Ctrl-C. To look around from another shell:", d.url)
	fmt.Fprintf(d.n.w, "  export MLOPS_ENDPOINT=%s MLOPS_TOKEN=%s MLOPS_PROJECT=%s\n", d.url, d.token, demoProject)
	fmt.Fprintf(d.n.w, "  %s runs list %s\n  %s deployments status %s\n  %s monitors evaluate %s\n",
		d.self, demoPipeline, d.self, demoDeployment, d.self, demoMonitor)
	select {
	case <-ctx.Done():
		d.n.say("stopping")
		return nil
	case <-d.serverDone:
		return fmt.Errorf("mlopsd exited: %w", d.serverExit())
	}
}

// serverExit is how the server ended.
func (d *demo) serverExit() error {
	if d.serverErr == nil {
		return errors.New("exit status 0")
	}
	return d.serverErr
}

// diagnose prints the end of the server's log after a failure, before the
// scratch directory goes.
func (d *demo) diagnose() {
	raw, err := os.ReadFile(filepath.Join(d.tmp, "mlopsd.log"))
	if err != nil || len(raw) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	fmt.Fprintf(d.errOut, "last lines of mlopsd's log:\n%s\n", strings.Join(lines[max(0, len(lines)-25):], "\n"))
}

// cleanup stops the traffic and the server (which stops its model servers)
// and removes the scratch directory.
func (d *demo) cleanup() {
	d.stopBg()
	d.stopTraffic()
	if d.server != nil {
		_ = d.server.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.serverDone:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-d.server.Process.Pid, syscall.SIGKILL)
			<-d.serverDone
		}
	}
	if d.tmp != "" {
		if err := os.RemoveAll(d.tmp); err != nil {
			fmt.Fprintf(d.errOut, "removing %s: %v\n", d.tmp, err)
			return
		}
	}
	d.n.say("stopped mlopsd and removed %s", d.tmp)
}

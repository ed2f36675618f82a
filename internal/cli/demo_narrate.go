package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// narrator prints the demo's story, each line stamped with the time since
// the demo began. It is safe for concurrent use: the observer and the
// stages both speak.
type narrator struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	now   func() time.Time
}

func newNarrator(w io.Writer) *narrator {
	return &narrator{w: w, start: time.Now(), now: time.Now}
}

func (n *narrator) say(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.w, "%s  %s\n", clock(n.now().Sub(n.start)), fmt.Sprintf(format, args...))
}

func (n *narrator) heading(title string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.w, "\n%s  == %s ==\n", clock(n.now().Sub(n.start)), title)
}

// elapsed is the time since the demo began.
func (n *narrator) elapsed() time.Duration { return n.now().Sub(n.start) }

// clock prints d as minutes and seconds: " 2:05".
func clock(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%2d:%02d", s/60, s%60)
}

// observer polls what the quickstart's objects do on the server, narrates
// every change as it sees it, and keeps the latest of everything for the
// stages to wait on.
type observer struct {
	c *client.Client
	n *narrator

	mu         sync.Mutex
	runs       map[int64]api.PipelineRun
	aliases    map[string]int64
	deployment *api.Deployment
	depLine    string
	// canaries are the weights each canary version was seen at.
	canaries map[int64][]int
	evals    []api.MonitorEvaluation
	lastEval int64
	failures int // polls failed in a row
}

func newObserver(c *client.Client, n *narrator) *observer {
	return &observer{c: c, n: n, runs: map[int64]api.PipelineRun{}, aliases: map[string]int64{}, canaries: map[int64][]int{}}
}

// run polls every interval until ctx ends.
func (o *observer) run(ctx context.Context, every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if err := o.poll(ctx, false); err != nil && ctx.Err() == nil {
			o.mu.Lock()
			o.failures++
			n := o.failures
			o.mu.Unlock()
			if n == 3 { // one blip is not worth a line; a dead server is
				o.n.say("cannot read the server's state: %v", err)
			}
			continue
		}
		o.mu.Lock()
		o.failures = 0
		o.mu.Unlock()
	}
}

// poll reads runs, the model, the deployment and the monitor once and
// narrates what changed since the last poll (nothing when quiet).
func (o *observer) poll(ctx context.Context, quiet bool) error {
	var lines []string
	runs, err := o.c.ListRuns(ctx, demoProject, demoPipeline)
	if err != nil {
		return err
	}
	slices.SortFunc(runs, func(a, b api.PipelineRun) int { return int(a.ID - b.ID) })
	for _, r := range runs {
		o.mu.Lock()
		prev, seen := o.runs[r.ID]
		o.mu.Unlock()
		var before *api.PipelineRun
		if seen {
			before = &prev
		}
		lines = append(lines, runEvents(before, r)...)
		if r.ModelVersion != 0 && api.RunFinished(r.State) && (before == nil || !api.RunFinished(before.State)) {
			v, err := o.c.GetModelVersion(ctx, demoProject, r.Model, r.ModelVersion)
			if err != nil {
				return err
			}
			lines = append(lines, versionLines(v)...)
			lines = append(lines, promotionLine(r))
		}
		o.mu.Lock()
		o.runs[r.ID] = r
		o.mu.Unlock()
	}

	m, err := o.c.GetModel(ctx, demoProject, demoModel)
	if err != nil {
		return err
	}
	o.mu.Lock()
	lines = append(lines, aliasEvents(o.aliases, m.Aliases)...)
	o.aliases = m.Aliases
	o.mu.Unlock()

	d, err := o.c.GetDeployment(ctx, demoProject, demoDeployment)
	if err != nil {
		return err
	}
	line := deploymentLine(d)
	o.mu.Lock()
	if line != o.depLine {
		lines = append(lines, "deployment "+d.Name+" "+line)
		o.depLine = line
	}
	if d.CanaryVersion != 0 {
		ws := o.canaries[d.CanaryVersion]
		if len(ws) == 0 || ws[len(ws)-1] != d.CanaryWeight {
			o.canaries[d.CanaryVersion] = append(ws, d.CanaryWeight)
		}
	}
	o.deployment = d
	last := o.lastEval
	o.mu.Unlock()

	mon, err := o.c.GetMonitor(ctx, demoProject, demoMonitor)
	if err != nil {
		return err
	}
	for id := last + 1; id <= mon.LastEvaluationID; id++ {
		ev, err := o.c.GetMonitorEvaluation(ctx, demoProject, demoMonitor, id)
		if err != nil {
			return err
		}
		lines = append(lines, evaluationLine(ev))
		o.mu.Lock()
		o.evals = append(o.evals, *ev)
		o.lastEval = id
		o.mu.Unlock()
	}
	if !quiet {
		for _, l := range lines {
			o.n.say("%s", l)
		}
	}
	return nil
}

// snapshot is a consistent copy of what the observer last saw.
type snapshot struct {
	runs       map[int64]api.PipelineRun
	aliases    map[string]int64
	deployment *api.Deployment
	canaries   map[int64][]int
	evals      []api.MonitorEvaluation
}

func (o *observer) snapshot() snapshot {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := snapshot{runs: map[int64]api.PipelineRun{}, aliases: map[string]int64{}, canaries: map[int64][]int{},
		deployment: o.deployment, evals: slices.Clone(o.evals)}
	for k, v := range o.runs {
		s.runs[k] = v
	}
	for k, v := range o.aliases {
		s.aliases[k] = v
	}
	for k, v := range o.canaries {
		s.canaries[k] = slices.Clone(v)
	}
	return s
}

// runEvents says what changed in a run since prev (nil when first seen):
// its state, each step's state, and on finishing what it registered.
func runEvents(prev *api.PipelineRun, cur api.PipelineRun) []string {
	var lines []string
	stepsBefore := map[string]string{}
	if prev == nil {
		trigger := cur.Trigger
		if cur.TriggerEvaluation != 0 {
			trigger += fmt.Sprintf(", evaluation %d", cur.TriggerEvaluation)
		}
		lines = append(lines, fmt.Sprintf("run %d of pipeline %s (revision %d, trigger %s): %s", cur.ID, cur.Pipeline, cur.Revision, trigger, cur.State))
	} else {
		for _, s := range prev.Steps {
			stepsBefore[s.Name] = s.State
		}
		if prev.State != cur.State && !api.RunFinished(cur.State) {
			lines = append(lines, fmt.Sprintf("run %d %s", cur.ID, cur.State))
		}
	}
	for _, s := range cur.Steps {
		if stepsBefore[s.Name] == s.State || prev == nil && s.State == "pending" {
			continue
		}
		line := fmt.Sprintf("  step %s %s", s.Name, s.State)
		if s.StartedAt != nil && s.FinishedAt != nil {
			line += " in " + formatDuration(s.FinishedAt.Sub(*s.StartedAt))
		}
		if s.ExitCode != nil && *s.ExitCode == 0 {
			line += " (exit code 0)"
		}
		lines = append(lines, line+stepDetail(s))
	}
	if api.RunFinished(cur.State) && (prev == nil || !api.RunFinished(prev.State)) {
		line := fmt.Sprintf("run %d %s", cur.ID, cur.State)
		if cur.StartedAt != nil && cur.FinishedAt != nil {
			line += " after " + formatDuration(cur.FinishedAt.Sub(*cur.StartedAt))
		}
		if cur.ModelVersion != 0 {
			line += fmt.Sprintf(": registered %s v%d", cur.Model, cur.ModelVersion)
		}
		lines = append(lines, line+colonDetail(cur.Error))
	}
	return lines
}

// versionLines are a registered version's metrics and its gate results.
func versionLines(v *api.ModelVersion) []string {
	names := make([]string, 0, len(v.Metrics))
	for k := range v.Metrics {
		names = append(names, k)
	}
	slices.Sort(names)
	metrics := make([]string, len(names))
	for i, k := range names {
		metrics[i] = k + " " + formatFloat(v.Metrics[k])
	}
	lines := []string{fmt.Sprintf("v%d metrics: %s", v.Version, strings.Join(metrics, ", "))}
	for _, g := range v.GateResults {
		lines = append(lines, "  "+gateLine(g))
	}
	return lines
}

// gateLine is one gate's verdict: "gate auc >= 0.8 (guards staging): 0.875, passed".
func gateLine(g api.GateResult) string {
	guards := "every alias"
	if len(g.Aliases) > 0 {
		guards = strings.Join(g.Aliases, ", ")
	}
	value, verdict := "missing", "FAILED"
	if g.Value != nil {
		value = formatFloat(*g.Value)
	}
	if g.Passed {
		verdict = "passed"
	}
	return fmt.Sprintf("gate %s %s %s (guards %s): %s, %s", g.Metric, g.Op, formatFloat(g.Threshold), guards, value, verdict)
}

// promotionLine says what a finished run did with its promote_to alias.
func promotionLine(r api.PipelineRun) string {
	switch p := r.Promotion; {
	case p == nil:
		return fmt.Sprintf("v%d: the pipeline promotes to no alias", r.ModelVersion)
	case p.Promoted:
		return fmt.Sprintf("v%d passes the gates guarding %s: the run moves %s to it", r.ModelVersion, p.Alias, p.Alias)
	default:
		return fmt.Sprintf("v%d is not promoted to %s: %s", r.ModelVersion, p.Alias, p.Reason)
	}
}

// aliasEvents says which aliases appeared, moved or went away.
func aliasEvents(before, after map[string]int64) []string {
	names := make([]string, 0, len(after))
	for a := range after {
		names = append(names, a)
	}
	for a := range before {
		if _, ok := after[a]; !ok {
			names = append(names, a)
		}
	}
	slices.Sort(names)
	var lines []string
	for _, a := range names {
		was, had := before[a]
		now, has := after[a]
		switch {
		case !had:
			lines = append(lines, fmt.Sprintf("alias %s -> v%d", a, now))
		case !has:
			lines = append(lines, fmt.Sprintf("alias %s removed (was v%d)", a, was))
		case was != now:
			lines = append(lines, fmt.Sprintf("alias %s: v%d -> v%d", a, was, now))
		}
	}
	return lines
}

// deploymentLine is a deployment's status in one line; the controller's
// message is left out when it only repeats the canary's weight.
func deploymentLine(d *api.Deployment) string {
	s := fmt.Sprintf("%s: stable %s", d.Phase, version(d.StableVersion))
	msg := d.Message
	if d.CanaryVersion != 0 {
		canary := fmt.Sprintf("canary v%d at %d%%", d.CanaryVersion, d.CanaryWeight)
		s += ", " + canary
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, fmt.Sprintf("canary version %d at %d%%", d.CanaryVersion, d.CanaryWeight)), ": ")
	}
	return s + colonDetail(msg)
}

// evaluationLine is one monitor evaluation: its verdict, the features that
// drifted with their values, and what it set off.
func evaluationLine(ev *api.MonitorEvaluation) string {
	s := fmt.Sprintf("monitor evaluation %d: %s", ev.ID, ev.Status)
	switch ev.Status {
	case api.MonitorError:
		return s + colonDetail(ev.Error)
	case api.MonitorInsufficientData:
		return s + fmt.Sprintf(" (%d logged rows; it needs enough per feature to judge)", ev.CurrentRows)
	}
	s += fmt.Sprintf(", %d of %d features drifted over %d logged rows", ev.DriftedFeatures, ev.JudgedFeatures, ev.CurrentRows)
	var drifted []string
	for _, f := range ev.Features {
		if f.Drifted && f.Value != nil {
			drifted = append(drifted, fmt.Sprintf("%s %s %s", f.Feature, f.Metric, formatFloat(*f.Value)))
		}
	}
	if len(drifted) > 0 {
		s += " (" + strings.Join(drifted, ", ") + ")"
	}
	if ev.Alert {
		s += "; alert raised"
	}
	switch {
	case ev.RetrainRun != nil:
		s += fmt.Sprintf("; started run %d of pipeline %s", ev.RetrainRun.ID, ev.RetrainRun.Pipeline)
	case ev.RetrainSkipped != "":
		s += "; no retrain run: " + ev.RetrainSkipped
	}
	return s
}

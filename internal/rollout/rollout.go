// Package rollout is the deployment controller: it brings a deployment's
// backends up (launching local processes or pointing at URLs), sets the
// gateway's traffic weights, and walks a new target version through its
// canary steps, promoting it when each step's analysis passes and rolling
// back when one fails. Its decisions are stored with the deployment's status,
// so a restarted server resumes a rollout where it stood; the job engine
// calls Reconcile and schedules the next call.
package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
	"github.com/mlopsplane/terraform-provider-mlops/internal/serving"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Config is what a Controller needs.
type Config struct {
	Store   store.Store
	Gateway *gateway.Gateway
	// Serving launches command runtimes; nil refuses them (mlopsd --executor kubernetes or none).
	Serving *serving.Manager
	Logger  *slog.Logger
	Now     func() time.Time
	// DataDir holds each deployment's replica logs.
	DataDir string
	// Env is the base environment of launched model servers.
	Env map[string]string
	// RetryAfter is how soon a deployment whose backends failed is tried again.
	RetryAfter time.Duration
	// Replica names this process among the servers sharing the database; ""
	// makes one up from the host name and process id.
	Replica string
}

// Controller reconciles deployments.
type Controller struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	// mu serialises reconciles of one process: they start and stop processes.
	mu sync.Mutex
	// running remembers which versions this process serves per deployment, to
	// stop what is no longer needed.
	running map[string]map[int64]bool
	// served and published are the follower's memory (follow.go).
	served    map[string]served
	published map[string]replicaStats
	replica   string
}

// New builds a controller.
func New(cfg Config) *Controller {
	c := &Controller{cfg: cfg, log: cfg.Logger, now: cfg.Now, running: map[string]map[int64]bool{},
		served: map[string]served{}, published: map[string]replicaStats{}, replica: cfg.Replica}
	if c.replica == "" {
		host, _ := os.Hostname()
		c.replica = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cfg.RetryAfter <= 0 {
		c.cfg.RetryAfter = 10 * time.Second
	}
	return c
}

// Key is a deployment's name in the gateway and the process manager.
func Key(project, name string) string { return project + "/" + name }

// Reconcile moves one deployment one step towards its spec and says when it
// wants to be called again (0: not until the spec changes).
func (c *Controller) Reconcile(ctx context.Context, project, name string) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := Key(project, name)
	o, err := c.cfg.Store.Get(ctx, store.DeploymentKey(project, name))
	if errors.Is(err, store.ErrNotFound) {
		c.teardown(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var d api.Deployment
	if err := json.Unmarshal(o.Data, &d); err != nil {
		return 0, err
	}
	d.Project, d.Name = project, name
	st, err := c.loadStatus(ctx, project, name)
	if err != nil {
		return 0, err
	}
	before := st
	st.ObservedGeneration = o.Generation
	next, err := c.step(ctx, key, &d, &st)
	// Zero generations make the follower check this deployment again; the
	// entry also marks it as served here, for the teardown once it is gone.
	c.served[key] = served{at: c.now()}
	if err != nil {
		return 0, err
	}
	if st != before {
		if err := c.saveStatus(ctx, project, name, st); err != nil {
			return 0, err
		}
		c.log.Info("deployment reconciled", "deployment", key, "phase", st.Phase, "stable", st.StableVersion,
			"canary", st.CanaryVersion, "canary_weight", st.CanaryWeight, "message", st.Message)
	}
	return next, nil
}

// step decides and acts; it changes st in place.
func (c *Controller) step(ctx context.Context, key string, d *api.Deployment, st *api.DeploymentStatus) (time.Duration, error) {
	target, err := c.resolveTarget(ctx, d)
	if err != nil {
		var te *targetError
		if errors.As(err, &te) {
			st.Phase, st.Message = api.PhaseDegraded, te.msg
			return c.cfg.RetryAfter, c.serveCurrent(ctx, key, d, st)
		}
		return 0, err
	}
	if target != st.TargetVersion {
		st.TargetVersion = target
		st.RolledBackVersion = 0 // a new target gets its own chance
	}
	switch {
	case st.StableVersion == 0 || st.StableVersion == target && st.CanaryVersion == 0 || !d.Canary() && target != st.RolledBackVersion:
		return c.rollAtOnce(ctx, key, d, st, target)
	case target == st.StableVersion:
		// The target went back to the stable version mid-canary: abandon the canary.
		c.stopVersion(key, st.CanaryVersion)
		st.CanaryVersion, st.CanaryWeight, st.CanaryStep, st.StepStartedAt = 0, 0, 0, nil
		st.Phase, st.Message = api.PhaseHealthy, "canary abandoned: the target is the stable version again"
		return 0, c.serveCurrent(ctx, key, d, st)
	case target == st.RolledBackVersion:
		// Rolled back: stay on the stable version until the target changes.
		st.Phase = api.PhaseRolledBack
		return 0, c.serveCurrent(ctx, key, d, st)
	case st.CanaryVersion != target:
		return c.startCanary(ctx, key, d, st, target)
	default:
		return c.analyse(ctx, key, d, st)
	}
}

// rollAtOnce serves target alone: the first rollout, an all_at_once change,
// or a restart of a settled deployment.
func (c *Controller) rollAtOnce(ctx context.Context, key string, d *api.Deployment, st *api.DeploymentStatus, target int64) (time.Duration, error) {
	backends, err := c.ensure(ctx, key, d, target)
	if err != nil {
		st.Phase, st.Message = api.PhaseDegraded, fmt.Sprintf("version %d did not start: %v", target, err)
		return c.cfg.RetryAfter, c.serveCurrent(ctx, key, d, st)
	}
	old := st.StableVersion
	if st.CanaryVersion != 0 && st.CanaryVersion != target {
		c.stopVersion(key, st.CanaryVersion)
	}
	st.StableVersion, st.CanaryVersion, st.CanaryWeight, st.CanaryStep, st.StepStartedAt = target, 0, 0, 0, nil
	st.Phase, st.Message = api.PhaseHealthy, ""
	c.cfg.Gateway.Set(key, gateway.Route{Weights: map[int64]int{target: 100}, Backends: backends, HealthPath: d.Runtime.HealthPath, Sample: sampleRate(d)})
	if old != 0 && old != target {
		c.stopVersion(key, old)
		st.Message = fmt.Sprintf("version %d replaced version %d", target, old)
	}
	return 0, nil
}

func (c *Controller) startCanary(ctx context.Context, key string, d *api.Deployment, st *api.DeploymentStatus, target int64) (time.Duration, error) {
	if st.CanaryVersion != 0 {
		c.stopVersion(key, st.CanaryVersion) // a newer target replaces the running canary
	}
	if _, err := c.ensure(ctx, key, d, target); err != nil {
		return c.fail(ctx, key, d, st, target, fmt.Sprintf("canary version %d did not start: %v", target, err))
	}
	now := c.now().UTC()
	st.CanaryVersion, st.CanaryStep, st.CanaryWeight, st.StepStartedAt = target, 0, d.Strategy.Steps[0], &now
	st.Phase, st.Message = api.PhaseProgressing, fmt.Sprintf("canary version %d at %d%%", target, st.CanaryWeight)
	if err := c.serveCurrent(ctx, key, d, st); err != nil {
		return 0, err
	}
	return d.StepIntervalOrDefault(), nil
}

// analyse judges the canary's current step once its bake time is over.
func (c *Controller) analyse(ctx context.Context, key string, d *api.Deployment, st *api.DeploymentStatus) (time.Duration, error) {
	if err := c.serveCurrent(ctx, key, d, st); err != nil {
		return 0, err
	}
	if st.Phase == api.PhaseDegraded && !autoRollback(d) {
		return 0, nil // held for a human: a new target or a rollback by spec moves it
	}
	interval := d.StepIntervalOrDefault()
	started := c.now()
	if st.StepStartedAt != nil {
		started = *st.StepStartedAt
	}
	if wait := started.Add(interval).Sub(c.now()); wait > 0 {
		return wait, nil
	}
	s, err := c.canaryStats(ctx, d.Project, d.Name, st.CanaryVersion, started)
	if err != nil {
		return 0, err
	}
	policy := d.Strategy
	if minReq := deref(policy.MinRequests, api.DefaultMinRequests); s.Requests < minReq {
		st.Message = fmt.Sprintf("canary version %d at %d%%: waiting for traffic (%d of %d requests)", st.CanaryVersion, st.CanaryWeight, s.Requests, minReq)
		return min(interval, 5*time.Second), nil
	}
	maxErr := api.DefaultMaxErrorRate
	if policy.MaxErrorRate != nil {
		maxErr = *policy.MaxErrorRate
	}
	var why string
	switch {
	case s.ErrorRate > maxErr:
		why = fmt.Sprintf("error rate %.3f over %d requests exceeds max_error_rate %.3f", s.ErrorRate, s.Requests, maxErr)
	case policy.MaxLatencyP99Ms != nil && s.P99 > time.Duration(*policy.MaxLatencyP99Ms)*time.Millisecond:
		why = fmt.Sprintf("p99 latency %s over %d requests exceeds max_latency_p99_ms %d", s.P99.Round(time.Millisecond), s.Requests, *policy.MaxLatencyP99Ms)
	}
	if why != "" {
		return c.fail(ctx, key, d, st, st.CanaryVersion, fmt.Sprintf("canary version %d at %d%%: %s", st.CanaryVersion, st.CanaryWeight, why))
	}
	if st.CanaryStep+1 < len(policy.Steps) {
		now := c.now().UTC()
		st.CanaryStep++
		st.CanaryWeight, st.StepStartedAt = policy.Steps[st.CanaryStep], &now
		st.Message = fmt.Sprintf("canary version %d at %d%%", st.CanaryVersion, st.CanaryWeight)
		return interval, c.serveCurrent(ctx, key, d, st)
	}
	// Every step passed: the canary becomes stable and the old version drains.
	old, promoted := st.StableVersion, st.CanaryVersion
	st.StableVersion, st.CanaryVersion, st.CanaryWeight, st.CanaryStep, st.StepStartedAt = promoted, 0, 0, 0, nil
	st.Phase, st.Message = api.PhaseHealthy, fmt.Sprintf("version %d promoted after %d canary steps; version %d stopped", promoted, len(policy.Steps), old)
	if err := c.serveCurrent(ctx, key, d, st); err != nil {
		return 0, err
	}
	c.stopVersion(key, old)
	return 0, nil
}

// fail rolls a failing target back, or holds it as degraded without auto_rollback.
func (c *Controller) fail(ctx context.Context, key string, d *api.Deployment, st *api.DeploymentStatus, target int64, why string) (time.Duration, error) {
	if !autoRollback(d) {
		st.Phase, st.Message = api.PhaseDegraded, why+"; auto_rollback is off, so it stays at its weight"
		return 0, c.serveCurrent(ctx, key, d, st)
	}
	c.stopVersion(key, target)
	st.CanaryVersion, st.CanaryWeight, st.CanaryStep, st.StepStartedAt = 0, 0, 0, nil
	st.RolledBackVersion = target
	st.Phase, st.Message = api.PhaseRolledBack, fmt.Sprintf("rolled back to version %d: %s", st.StableVersion, why)
	return 0, c.serveCurrent(ctx, key, d, st)
}

// serveCurrent makes sure the stable (and canary) backends run and the
// gateway routes by the current weights: after a restart, processes and
// routes are gone while the status remains.
func (c *Controller) serveCurrent(ctx context.Context, key string, d *api.Deployment, st *api.DeploymentStatus) error {
	if st.StableVersion == 0 {
		return nil
	}
	route := gateway.Route{Weights: map[int64]int{st.StableVersion: 100 - st.CanaryWeight}, HealthPath: d.Runtime.HealthPath, Sample: sampleRate(d)}
	versions := []int64{st.StableVersion}
	if st.CanaryVersion != 0 {
		route.Weights[st.CanaryVersion] = st.CanaryWeight
		versions = append(versions, st.CanaryVersion)
	}
	for _, v := range versions {
		b, err := c.ensure(ctx, key, d, v)
		if err != nil {
			c.log.Warn("deployment backend did not start", "deployment", key, "version", v, "err", err)
			continue // the gateway sends its share to the healthy versions
		}
		route.Backends = append(route.Backends, b...)
	}
	c.cfg.Gateway.Set(key, route)
	return nil
}

// ensure starts (or finds running) the backends of one version.
func (c *Controller) ensure(ctx context.Context, key string, d *api.Deployment, version int64) ([]gateway.Backend, error) {
	if d.Runtime.URL != "" {
		u, err := url.Parse(d.Runtime.BackendURL(version))
		if err != nil {
			return nil, err
		}
		return []gateway.Backend{{Version: version, URL: u}}, nil
	}
	if c.cfg.Serving == nil {
		return nil, errors.New("this server launches no model servers (only mlopsd --executor local does); use runtime.url")
	}
	mv, err := c.loadVersion(ctx, d.Project, d.Model, version)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range c.cfg.Env {
		env[k] = v
	}
	for k, v := range d.Runtime.Env {
		env[k] = v
	}
	replicas, err := c.cfg.Serving.Start(ctx, key, serving.Spec{
		Command: d.Runtime.Command, Env: env, Replicas: d.Replicas, HealthPath: d.Runtime.HealthPath,
		ArtifactURI: mv.ArtifactURI, Model: d.Model, Version: version,
		Dir: filepath.Join(c.cfg.DataDir, d.Project, d.Name, strconv.FormatInt(version, 10)),
	})
	if err != nil {
		return nil, err
	}
	if c.running[key] == nil {
		c.running[key] = map[int64]bool{}
	}
	c.running[key][version] = true
	out := make([]gateway.Backend, 0, len(replicas))
	for _, r := range replicas {
		out = append(out, gateway.Backend{Version: version, URL: r.URL})
	}
	return out, nil
}

func (c *Controller) stopVersion(key string, version int64) {
	if version == 0 || c.cfg.Serving == nil {
		return
	}
	if err := c.cfg.Serving.Stop(key, version); err != nil {
		c.log.Warn("stopping a model server", "deployment", key, "version", version, "err", err)
	}
	delete(c.running[key], version)
}

func (c *Controller) teardown(key string) {
	c.cfg.Gateway.Remove(key)
	for v := range c.running[key] {
		c.stopVersion(key, v)
	}
	delete(c.running, key)
	delete(c.served, key)
	delete(c.published, key)
}

type targetError struct{ msg string }

func (e *targetError) Error() string { return e.msg }

// resolveTarget is the version the spec asks for; an alias is read now.
func (c *Controller) resolveTarget(ctx context.Context, d *api.Deployment) (int64, error) {
	if d.Alias == "" {
		if _, err := c.loadVersion(ctx, d.Project, d.Model, d.Version); err != nil {
			return 0, err
		}
		return d.Version, nil
	}
	o, err := c.cfg.Store.Get(ctx, store.ModelAliasKey(d.Project, d.Model, d.Alias))
	if errors.Is(err, store.ErrNotFound) {
		return 0, &targetError{fmt.Sprintf("alias %q of model %q does not exist", d.Alias, d.Model)}
	}
	if err != nil {
		return 0, err
	}
	var a api.ModelAlias
	if err := json.Unmarshal(o.Data, &a); err != nil {
		return 0, err
	}
	return a.Version, nil
}

func (c *Controller) loadVersion(ctx context.Context, project, model string, version int64) (*api.ModelVersion, error) {
	o, err := c.cfg.Store.Get(ctx, store.ModelVersionKey(project, model, version))
	if errors.Is(err, store.ErrNotFound) {
		return nil, &targetError{fmt.Sprintf("version %d of model %q does not exist", version, model)}
	}
	if err != nil {
		return nil, err
	}
	var mv api.ModelVersion
	return &mv, json.Unmarshal(o.Data, &mv)
}

func (c *Controller) loadStatus(ctx context.Context, project, name string) (api.DeploymentStatus, error) {
	var st api.DeploymentStatus
	o, err := c.cfg.Store.Get(ctx, store.DeploymentStateKey(project, name))
	if errors.Is(err, store.ErrNotFound) {
		return api.DeploymentStatus{Phase: api.PhaseProgressing}, nil
	}
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(o.Data, &st)
}

func (c *Controller) saveStatus(ctx context.Context, project, name string, st api.DeploymentStatus) error {
	return c.cfg.Store.InTx(ctx, func(tx store.Store) error {
		// A deployment deleted meanwhile keeps no status.
		if _, err := tx.Get(ctx, store.DeploymentKey(project, name)); err != nil {
			return err
		}
		raw, err := c.withHistory(ctx, tx, project, name, st)
		if err != nil {
			return err
		}
		o := &store.Object{Key: store.DeploymentStateKey(project, name), Data: raw}
		err = tx.Update(ctx, o, 0)
		if errors.Is(err, store.ErrNotFound) {
			return tx.Create(ctx, o)
		}
		return err
	})
}

func autoRollback(d *api.Deployment) bool {
	return d.Strategy == nil || d.Strategy.AutoRollback == nil || *d.Strategy.AutoRollback
}

func deref(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}

func sampleRate(d *api.Deployment) float64 {
	if d.PredictionLogging == nil {
		return 0
	}
	return d.PredictionLogging.SampleRate
}

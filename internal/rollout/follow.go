package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Several mlopsd replicas on one database serve every deployment alike. The
// rollout decisions are taken once, by whichever replica runs a
// deployment's reconcile job, and stored; every replica follows the stored
// status on its own: it runs the versions the status names (its own
// processes for runtime.command) and routes its gateway by the status's
// weights. Each replica sees only the traffic sent to it, so during a canary
// every replica publishes what its gateway saw of the canary in the current
// step, and the analysis adds those up.

// served is what this process last brought a deployment to: the
// generations of its spec and status, and when (see FollowOnce's teardown).
type served struct {
	spec, status int64
	at           time.Time
}

// replicaStats is one replica's published view of a canary step.
type replicaStats struct {
	Version int64           `json:"version"`
	Since   time.Time       `json:"since"`
	Summary gateway.Summary `json:"summary"`
}

// StatsRetention is how long a replica's published statistics stay after
// their last update; a replica that died mid-canary keeps counting until then.
const StatsRetention = 10 * time.Minute

// Follow calls FollowOnce every interval until ctx ends.
func (c *Controller) Follow(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.FollowOnce(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("following the deployments' stored status", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FollowOnce brings this process's backends and routes in line with every
// deployment's stored status, tears down the deployments that are gone, and
// publishes this gateway's statistics of running canaries.
func (c *Controller) FollowOnce(ctx context.Context) error {
	start := c.now()
	projects, _, err := c.cfg.Store.List(ctx, store.ListQuery{Kind: store.KindProject})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range projects {
		deployments, err := listAll(ctx, c.cfg.Store, store.KindDeployment, p.Name)
		if err != nil {
			return err
		}
		if len(deployments) == 0 {
			continue
		}
		states, err := listAll(ctx, c.cfg.Store, store.KindDeploymentState, p.Name)
		if err != nil {
			return err
		}
		byName := make(map[string]*store.Object, len(states))
		for _, s := range states {
			byName[s.Name] = s
		}
		for _, d := range deployments {
			key := Key(p.Name, d.Name)
			seen[key] = true
			so := byName[d.Name]
			if so == nil {
				continue // not reconciled yet by any replica
			}
			if err := c.follow(ctx, p.Name, d, so); err != nil {
				c.log.Warn("following a deployment's status", "deployment", key, "err", err)
			}
			if err := c.publish(ctx, p.Name, d.Name, so); err != nil {
				c.log.Warn("publishing canary statistics", "deployment", key, "err", err)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, s := range c.served {
		// A deployment this process began serving after the listing started
		// is not in it, and is not gone.
		if !seen[key] && s.at.Before(start) {
			c.teardown(key)
		}
	}
	return nil
}

// follow serves one deployment as its status says, unless this process
// already serves those generations.
func (c *Controller) follow(ctx context.Context, project string, d, so *store.Object) error {
	key := Key(project, d.Name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.served[key]; ok && s.spec == d.Generation && s.status == so.Generation {
		return nil
	}
	// Read both again under the lock: a reconcile of this process may have
	// moved the status since the listing, and following the listed one would
	// stop what it just started.
	o, err := c.cfg.Store.Get(ctx, store.DeploymentKey(project, d.Name))
	if err != nil {
		return ignoreGone(err)
	}
	var spec api.Deployment
	if err := json.Unmarshal(o.Data, &spec); err != nil {
		return err
	}
	spec.Project, spec.Name = project, d.Name
	so, err = c.cfg.Store.Get(ctx, store.DeploymentStateKey(project, d.Name))
	if err != nil {
		return ignoreGone(err)
	}
	var st api.DeploymentStatus
	if err := json.Unmarshal(so.Data, &st); err != nil {
		return err
	}
	for v := range c.running[key] {
		if v != st.StableVersion && v != st.CanaryVersion {
			c.stopVersion(key, v)
		}
	}
	if err := c.serveCurrent(ctx, key, &spec, &st); err != nil {
		return err
	}
	c.served[key] = served{spec: o.Generation, status: so.Generation, at: c.now()}
	return nil
}

// publish stores what this gateway saw of the canary's current step, when
// there is one and this replica saw anything new of it.
func (c *Controller) publish(ctx context.Context, project, name string, so *store.Object) error {
	var st api.DeploymentStatus
	if err := json.Unmarshal(so.Data, &st); err != nil {
		return err
	}
	if st.CanaryVersion == 0 || st.StepStartedAt == nil {
		return nil
	}
	sum := c.cfg.Gateway.Summary(Key(project, name), st.CanaryVersion, *st.StepStartedAt)
	mine := replicaStats{Version: st.CanaryVersion, Since: st.StepStartedAt.UTC(), Summary: sum}
	c.mu.Lock()
	last, ok := c.published[Key(project, name)]
	c.mu.Unlock()
	if sum.Requests == 0 || ok && last.Version == mine.Version && last.Since.Equal(mine.Since) && last.Summary.Requests == sum.Requests {
		return nil
	}
	raw, err := json.Marshal(mine)
	if err != nil {
		return err
	}
	err = c.cfg.Store.InTx(ctx, func(tx store.Store) error {
		// Statistics of a deleted deployment would keep its project from being deleted.
		if _, err := tx.Get(ctx, store.DeploymentKey(project, name)); err != nil {
			return err
		}
		o := &store.Object{Key: statsKey(project, name, c.replica), Data: raw}
		err := tx.Update(ctx, o, 0)
		if errors.Is(err, store.ErrNotFound) {
			err = tx.Create(ctx, o)
		}
		if err != nil {
			return err
		}
		return pruneStats(ctx, tx, project, name, c.now().Add(-StatsRetention))
	})
	if err != nil {
		return ignoreGone(err)
	}
	c.mu.Lock()
	c.published[Key(project, name)] = mine
	c.mu.Unlock()
	return nil
}

// canaryStats adds up what every replica's gateway saw of version since the
// step began: this process's own, live, and the others' as they published
// it (at most one follow interval old).
func (c *Controller) canaryStats(ctx context.Context, project, name string, version int64, since time.Time) (gateway.Stats, error) {
	sum := c.cfg.Gateway.Summary(Key(project, name), version, since)
	others, err := listAllUnder(ctx, c.cfg.Store, store.KindGatewayStats, project, name)
	if err != nil {
		return gateway.Stats{}, err
	}
	for _, o := range others {
		if o.Name == c.replica {
			continue
		}
		var rs replicaStats
		if err := json.Unmarshal(o.Data, &rs); err != nil {
			return gateway.Stats{}, fmt.Errorf("statistics of replica %s: %w", o.Name, err)
		}
		if rs.Version == version && rs.Since.Equal(since.UTC()) {
			sum = sum.Add(rs.Summary)
		}
	}
	return sum.Stats(), nil
}

// DeleteStats drops the replicas' published statistics of a deployment, in
// the transaction that deletes it.
func DeleteStats(ctx context.Context, tx store.Store, project, name string) error {
	return tx.DeleteChildren(ctx, store.KindGatewayStats, project, name)
}

func pruneStats(ctx context.Context, tx store.Store, project, name string, before time.Time) error {
	objs, err := listAllUnder(ctx, tx, store.KindGatewayStats, project, name)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.UpdatedAt.Before(before) {
			if err := tx.Delete(ctx, o.Key, o.Generation); err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrStale) {
				return err
			}
		}
	}
	return nil
}

func statsKey(project, deployment, replica string) store.Key {
	return store.Key{Kind: store.KindGatewayStats, Project: project, Parent: deployment, Name: replica}
}

func listAll(ctx context.Context, st store.Store, kind store.Kind, project string) ([]*store.Object, error) {
	return listAllUnder(ctx, st, kind, project, "")
}

func listAllUnder(ctx context.Context, st store.Store, kind store.Kind, project, parent string) ([]*store.Object, error) {
	var all []*store.Object
	err := store.Each(ctx, st, store.ListQuery{Kind: kind, Project: project, Parent: parent}, func(o *store.Object) error {
		all = append(all, o)
		return nil
	})
	return all, err
}

// ignoreGone treats a deployment deleted meanwhile as nothing to do: the
// next round tears it down.
func ignoreGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

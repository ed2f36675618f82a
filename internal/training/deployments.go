package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Reconciler moves a deployment towards its spec (internal/rollout) and
// says when it wants to be called again (0: only when the spec changes).
type Reconciler interface {
	Reconcile(ctx context.Context, project, name string) (time.Duration, error)
}

// reconcileArgs is one call of the deployment controller. Token is the
// deployment's sync count when the chain of calls began: a write to the
// deployment starts a new chain, and calls of older chains do nothing, so
// exactly one chain per deployment keeps rescheduling itself.
type reconcileArgs struct {
	Project    string    `json:"project"`
	Deployment string    `json:"deployment"`
	Token      int64     `json:"token"`
	At         time.Time `json:"at"`
}

func (reconcileArgs) Kind() string { return "deployment_reconcile" }

type reconcileWorker struct {
	river.WorkerDefaults[reconcileArgs]
	e *Engine
}

// Timeout bounds a reconcile (starting model servers included), so that River
// hands the job of a dead worker to another once it has passed.
func (w *reconcileWorker) Timeout(*river.Job[reconcileArgs]) time.Duration { return 10 * time.Minute }

func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[reconcileArgs]) error {
	return w.e.reconcileDeployment(ctx, job.Args)
}

// deploymentSync is the stored sync count of a deployment.
type deploymentSync struct {
	Token int64 `json:"token"`
}

func deploymentSyncKey(project, name string) store.Key {
	return store.Key{Kind: store.KindDeploymentSync, Project: project, Name: name}
}

// SyncDeployment starts a new chain of controller calls after a deployment
// was created, changed or deleted, inside the transaction of that write.
func (e *Engine) SyncDeployment(ctx context.Context, tx store.Store, project, name string) error {
	if e.cfg.Deployments == nil {
		return nil
	}
	var s deploymentSync
	k := deploymentSyncKey(project, name)
	if _, err := tx.Get(ctx, store.DeploymentKey(project, name)); errors.Is(err, store.ErrNotFound) {
		// Deleted: the sync count goes with it (nothing of a deleted
		// deployment stays in its project), and a chain of token 0, which
		// matches no count, tears its backends down.
		if err := tx.Delete(ctx, k, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return e.enqueueReconcile(ctx, tx, reconcileArgs{Project: project, Deployment: name, At: e.now().UTC()})
	} else if err != nil {
		return err
	}
	o, err := tx.Get(ctx, k)
	switch {
	case err == nil:
		if err := json.Unmarshal(o.Data, &s); err != nil {
			return err
		}
		s.Token++
		o.Data = mustJSON(s)
		err = tx.Update(ctx, o, o.Generation)
	case errors.Is(err, store.ErrNotFound):
		s.Token = 1
		err = tx.Create(ctx, &store.Object{Key: k, Data: mustJSON(s)})
	}
	if err != nil {
		return err
	}
	return e.enqueueReconcile(ctx, tx, reconcileArgs{Project: project, Deployment: name, Token: s.Token, At: e.now().UTC()})
}

// SyncAliasFollowers resyncs the deployments that follow an alias after it moved.
func (e *Engine) SyncAliasFollowers(ctx context.Context, tx store.Store, project, model, alias string) error {
	if e.cfg.Deployments == nil {
		return nil
	}
	objs, _, err := tx.List(ctx, store.ListQuery{Kind: store.KindDeployment, Project: project})
	if err != nil {
		return err
	}
	for _, o := range objs {
		var d api.Deployment
		if err := json.Unmarshal(o.Data, &d); err != nil {
			return err
		}
		if d.Model == model && d.Alias == alias {
			if err := e.SyncDeployment(ctx, tx, project, o.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) enqueueReconcile(ctx context.Context, tx store.Store, a reconcileArgs) error {
	sqltx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	if _, err := e.river.InsertTx(ctx, sqltx, a, insertAt(&river.InsertOpts{Queue: queueDeployments,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}, a.At, e.now())); err != nil {
		return fmt.Errorf("enqueue deployment reconcile: %w", err)
	}
	return nil
}

func (e *Engine) reconcileDeployment(ctx context.Context, a reconcileArgs) error {
	var s deploymentSync
	o, err := e.store.Get(ctx, deploymentSyncKey(a.Project, a.Deployment))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if o != nil {
		if err := json.Unmarshal(o.Data, &s); err != nil {
			return err
		}
	}
	if s.Token != a.Token {
		return nil // a newer chain took over
	}
	next, err := e.cfg.Deployments.Reconcile(ctx, a.Project, a.Deployment)
	if err != nil {
		return err
	}
	if next <= 0 {
		return e.forgetDeleted(ctx, a)
	}
	return e.store.InTx(ctx, func(tx store.Store) error {
		a.At = e.now().Add(next).UTC()
		return e.enqueueReconcile(ctx, tx, a)
	})
}

// reconcileDeployments restarts every deployment's chain on start: a
// launched model server does not outlive the process that launched it.
func (e *Engine) reconcileDeployments(ctx context.Context) error {
	if e.cfg.Deployments == nil || !e.cfg.Work {
		return nil
	}
	return e.eachObject(ctx, store.KindDeployment, func(project string, o *store.Object) error {
		return e.store.InTx(ctx, func(tx store.Store) error {
			return e.SyncDeployment(ctx, tx, project, o.Name)
		})
	})
}

// forgetDeleted drops the sync count of a deployment that is gone, should
// one still be there (a deletion before this version removed none).
func (e *Engine) forgetDeleted(ctx context.Context, a reconcileArgs) error {
	return e.store.InTx(ctx, func(tx store.Store) error {
		if _, err := tx.Get(ctx, store.DeploymentKey(a.Project, a.Deployment)); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		o, err := tx.Get(ctx, deploymentSyncKey(a.Project, a.Deployment))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var s deploymentSync
		if err := json.Unmarshal(o.Data, &s); err != nil || s.Token != a.Token {
			return err // recreated meanwhile: its chain owns the count
		}
		return tx.Delete(ctx, o.Key, o.Generation)
	})
}

// insertAt schedules a job for at, or makes it available at once when at is
// not in the future: River releases scheduled jobs only on its scheduler's
// tick (every 5s), which would delay every immediate job by up to that.
func insertAt(opts *river.InsertOpts, at, now time.Time) *river.InsertOpts {
	if at.After(now) {
		opts.ScheduledAt = at
	}
	return opts
}

package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// MaxEvents is how many rollout events a deployment keeps.
const MaxEvents = 50

// Event is one change of a deployment's rollout status (phase, versions,
// canary weight or message), for the dashboard's rollout timeline.
type Event struct {
	Time          time.Time `json:"time"`
	Phase         string    `json:"phase"`
	TargetVersion int64     `json:"target_version,omitempty"`
	StableVersion int64     `json:"stable_version,omitempty"`
	CanaryVersion int64     `json:"canary_version,omitempty"`
	CanaryWeight  int       `json:"canary_weight"`
	Message       string    `json:"message,omitempty"`
}

// stateDoc is the stored deployment_state: the status the API reports plus
// the newest events. The events live in the same document so that they are
// written in the status's transaction and deleted with it; readers that
// decode only api.DeploymentStatus ignore them.
type stateDoc struct {
	api.DeploymentStatus
	History []Event `json:"history,omitempty"`
}

func eventOf(st api.DeploymentStatus, at time.Time) Event {
	return Event{Time: at, Phase: st.Phase, TargetVersion: st.TargetVersion, StableVersion: st.StableVersion,
		CanaryVersion: st.CanaryVersion, CanaryWeight: st.CanaryWeight, Message: st.Message}
}

// sameEvent compares what a rollout's timeline shows: a change of message
// alone (a canary waiting for traffic counts its requests) is no event.
func sameEvent(a, b Event) bool {
	a.Time, b.Time, a.Message, b.Message = time.Time{}, time.Time{}, "", ""
	return a == b
}

// withHistory encodes st for storage with the stored history, plus an event
// when the phase, a version or the canary's weight changed.
func (c *Controller) withHistory(ctx context.Context, tx store.Store, project, name string, st api.DeploymentStatus) ([]byte, error) {
	var doc stateDoc
	o, err := tx.Get(ctx, store.DeploymentStateKey(project, name))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		// An unreadable history starts afresh rather than blocking the rollout.
		_ = json.Unmarshal(o.Data, &doc)
	}
	ev := eventOf(st, c.now().UTC())
	if n := len(doc.History); n == 0 || !sameEvent(doc.History[n-1], ev) {
		doc.History = append(doc.History, ev)
		if len(doc.History) > MaxEvents {
			doc.History = doc.History[len(doc.History)-MaxEvents:]
		}
	}
	doc.DeploymentStatus = st
	return json.Marshal(doc)
}

// ReadStatus returns a deployment's rollout status and its events, oldest
// first; a deployment the controller has not reconciled yet is progressing
// with no events.
func ReadStatus(ctx context.Context, st store.Store, project, name string) (api.DeploymentStatus, []Event, error) {
	o, err := st.Get(ctx, store.DeploymentStateKey(project, name))
	if errors.Is(err, store.ErrNotFound) {
		return api.DeploymentStatus{Phase: api.PhaseProgressing}, nil, nil
	}
	if err != nil {
		return api.DeploymentStatus{}, nil, err
	}
	var doc stateDoc
	if err := json.Unmarshal(o.Data, &doc); err != nil {
		return api.DeploymentStatus{}, nil, err
	}
	if doc.Phase == "" {
		doc.Phase = api.PhaseProgressing
	}
	return doc.DeploymentStatus, doc.History, nil
}

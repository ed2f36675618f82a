// Package store defines how mlopsd persists its objects. Every kind of object
// (project, dataset, pipeline, model, ...) is a JSON document addressed by
// kind, project, parent and name, with a generation that guards concurrent
// writes. Implementations live in sub-packages; storetest holds the
// conformance suite every implementation must pass.
package store

import (
	"context"
	"errors"
	"time"
)

// Kind names a type of object.
type Kind string

// The kinds the control plane stores.
const (
	KindProject          Kind = "project"
	KindDataset          Kind = "dataset"
	KindDatasetProfile   Kind = "dataset_profile"
	KindPipeline         Kind = "pipeline"
	KindPipelineRevision Kind = "pipeline_revision"
	KindModel            Kind = "model"
	KindModelVersion     Kind = "model_version"
	KindModelAlias       Kind = "model_alias"
	KindSchedule         Kind = "schedule"
	KindScheduleState    Kind = "schedule_state"
	KindMonitor          Kind = "monitor"
	KindMonitorState     Kind = "monitor_state"
	// Evaluations live under their monitor (parent) and are named by number.
	KindMonitorEvaluation Kind = "monitor_evaluation"
	KindDeployment        Kind = "deployment"
	KindDeploymentState   Kind = "deployment_state"
	KindDeploymentSync    Kind = "deployment_sync"
	// What one server replica's gateway saw of a deployment's canary step:
	// under the deployment (parent), named by replica.
	KindGatewayStats Kind = "gateway_stats"
	// Logged prediction requests live under their deployment, named by number.
	KindPredictionLog Kind = "prediction_log"
	// Runs live under their pipeline (parent) and are named by number; logs
	// live under "<pipeline>/<run>" and are named by step.
	KindPipelineRun Kind = "pipeline_run"
	KindRunLog      Kind = "run_log"
	// Audit records of changes, named by their sequence number. They live
	// outside every project (Project ""), so they outlive what they describe
	// and never keep a project from being deleted; see AuditKey.
	KindAudit Kind = "audit"
)

// Errors every implementation returns, so callers can map them to HTTP statuses.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrStale means the caller's expected generation no longer matches.
	ErrStale = errors.New("generation does not match")
	// ErrUnavailable means the database cannot be reached right now; retrying later may work.
	ErrUnavailable = errors.New("database unavailable")
	// ErrBadPageToken means a list was given a page token the store did not issue.
	ErrBadPageToken = errors.New("bad page token")
)

// Key addresses one object. Parent is the owning object's name for nested
// kinds (a model's versions and aliases, a pipeline's revisions), else empty.
type Key struct {
	Kind    Kind
	Project string
	Parent  string
	Name    string
}

// Object is one stored document.
type Object struct {
	Key
	// Ordinal orders objects within a parent where names are numbers (versions, revisions).
	Ordinal    int64
	Generation int64
	Data       []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ListQuery selects objects of one kind under one project and parent, in
// (ordinal, name) order.
type ListQuery struct {
	Kind    Kind
	Project string
	Parent  string
	// PageToken continues a previous listing.
	PageToken string
	// Limit bounds the page; 0 means no bound.
	Limit int
	// Desc lists newest ordinal (then name) first.
	Desc bool
}

// Token is a stored API token; only the hash of its secret is kept.
type Token struct {
	ID          string
	Hash        string
	Role        string
	Project     string
	Description string
	CreatedAt   time.Time
}

type essentialKey struct{}

// Essential marks the store calls made with the returned context as
// essential to the request they join (see Store.Idempotent and Store.Atomic):
// if one fails, the whole request fails and nothing of it is kept, where
// another failed call leaves the request's earlier writes in place for the
// handler to answer (a 409 after a duplicate create). The store need not
// guard an essential call with a savepoint, a round trip on PostgreSQL.
func Essential(ctx context.Context) context.Context {
	return context.WithValue(ctx, essentialKey{}, true)
}

// IsEssential reports whether ctx was made by Essential.
func IsEssential(ctx context.Context) bool {
	v, _ := ctx.Value(essentialKey{}).(bool)
	return v
}

// Family is what Families reads under one parent.
type Family struct {
	// Children are the children of the kind asked for all, in (ordinal, name) order.
	Children []*Object
	// Last is the highest ordinal among the children of the kind asked for
	// last; 0 without any.
	Last int64
}

// IdempotentResponse is the recorded outcome of a request made with an Idempotency-Key.
type IdempotentResponse struct {
	RequestHash string
	Status      int
	Header      []byte
	Body        []byte
}

// Store persists objects, sequences, tokens and idempotency records.
type Store interface {
	Get(ctx context.Context, key Key) (*Object, error)
	// Create stores new objects at generation 1, in one statement: all or
	// none; ErrExists if a key is taken.
	Create(ctx context.Context, objs ...*Object) error
	// CreateFresh is Create of one object in a project and ResetSequence(scope)
	// in one statement: an object that numbers its children (a model its
	// versions) starts at 1 even where an earlier one of its name left a
	// count. ErrNotFound, and nothing changes, if obj's project does not exist.
	CreateFresh(ctx context.Context, obj *Object, scope string) error
	// Update replaces an object's data and bumps its generation. With
	// ifGeneration > 0 the write happens only at that generation, else ErrStale.
	Update(ctx context.Context, obj *Object, ifGeneration int64) error
	// Delete removes an object, guarded by ifGeneration like Update.
	Delete(ctx context.Context, key Key, ifGeneration int64) error
	// DeleteChildren removes every object of kind under project and parent.
	DeleteChildren(ctx context.Context, kind Kind, project, parent string) error
	// List returns one page and the token of the next page ("" at the end).
	List(ctx context.Context, q ListQuery) ([]*Object, string, error)
	// Children returns the objects of kind under each of parents (all in
	// project), by parent, each parent's in (ordinal, name) order; parents
	// without any are left out.
	Children(ctx context.Context, kind Kind, project string, parents []string) (map[string][]*Object, error)
	// Families reads, in one query, what completes a page of objects of
	// project named parents: each one's children of kind all and the
	// highest ordinal among its children of kind last (see Family). Parents
	// with neither are left out.
	Families(ctx context.Context, project string, parents []string, all, last Kind) (map[string]Family, error)
	// GetFamily is Get and Families of the object's name in one query:
	// reading an object with what completes it costs one round trip.
	GetFamily(ctx context.Context, key Key, all, last Kind) (*Object, Family, error)
	// CountProject counts the objects of any kind in a project.
	CountProject(ctx context.Context, project string) (int64, error)

	// NextSequence returns 1, 2, 3, ... for each scope; values are never handed out twice.
	NextSequence(ctx context.Context, scope string) (int64, error)
	// CreateNumbered takes the next value of scope, as NextSequence does,
	// and creates objs (all or none) with it as their name and ordinal, in
	// one statement: it returns the value. An object's data cannot hold the
	// value; readers take it from the ordinal.
	CreateNumbered(ctx context.Context, scope string, objs ...*Object) (int64, error)
	// ResetSequence forgets a scope, so it starts again at 1.
	ResetSequence(ctx context.Context, scope string) error

	// InTx runs fn against a store whose writes commit together or not at all.
	InTx(ctx context.Context, fn func(tx Store) error) error

	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose secret hashes to hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// TokenByID returns the token with the id, or ErrNotFound.
	TokenByID(ctx context.Context, id string) (*Token, error)
	ListTokens(ctx context.Context) ([]*Token, error)
	DeleteToken(ctx context.Context, id string) error

	// Idempotent executes a request made with an Idempotency-Key at most
	// once. If (scope, key) already has a recorded response, it returns it as
	// prior without calling fn. Otherwise it calls fn with a context under
	// which every call to this store joins one transaction (begun at the
	// first write; reads before it use the pool), and records the response fn
	// returns in that same transaction: the request's writes and its
	// recorded response commit together or not at all, so a crash leaves
	// neither and a retry runs afresh. fn returning nil records nothing and
	// rolls its writes back. If a concurrent request with the key records
	// first, fn's writes are rolled back and that response is returned as
	// prior. If an essential call of fn's failed (see Essential), nothing is
	// recorded and Idempotent returns that call's error. fn must not call
	// the store from several goroutines at once.
	Idempotent(ctx context.Context, scope, key, requestHash string, fn func(ctx context.Context) *IdempotentResponse) (prior *IdempotentResponse, err error)
	// PurgeIdempotent drops records older than the cutoff.
	PurgeIdempotent(ctx context.Context, olderThan time.Time) error
	// Atomic runs a request that has no Idempotency-Key as Idempotent runs
	// one that has: every call to this store under fn's context joins one
	// transaction (begun at the first write), which commits when fn returns
	// true and rolls back when it returns false. If an essential call of
	// fn's failed, it rolls back and returns that call's error. fn must not
	// call the store from several goroutines at once.
	Atomic(ctx context.Context, fn func(ctx context.Context) (commit bool)) error

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Package api holds the wire types of the mlopsd REST API (/v1), shared by the
// server and the Go client, and the validation rules both sides apply.
package api

import "time"

// DefaultProject exists from the first start of the server.
const DefaultProject = "default"

// Meta is the bookkeeping the server keeps on every object.
type Meta struct {
	// Generation increases by one on every write; it is the object's ETag.
	Generation int64     `json:"generation" readOnly:"true" doc:"Increases on every write; sent back as the ETag."`
	CreatedAt  time.Time `json:"created_at" readOnly:"true"`
	UpdatedAt  time.Time `json:"updated_at" readOnly:"true"`
}

// Project groups every other object.
type Project struct {
	Name        string `json:"name" required:"true"`
	Description string `json:"description,omitempty"`
	Meta
}

// ProjectUpdate is the body of PUT /v1/projects/{name}.
type ProjectUpdate struct {
	Description string `json:"description,omitempty"`
}

// Column declares one column of a dataset's schema.
type Column struct {
	Name string `json:"name" required:"true"`
	// Type is one of ColumnTypes.
	Type string `json:"type" required:"true" enum:"string,integer,number,boolean,timestamp"`
}

// DatasetSpec is what a user declares about a dataset.
type DatasetSpec struct {
	URI         string            `json:"uri" required:"true" doc:"Where the data lives; file:// URIs and local paths are profiled by the server."`
	Format      string            `json:"format" required:"true" enum:"csv,jsonl,parquet"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Schema      []Column          `json:"schema,omitempty" doc:"Declared columns; the content is validated against them."`
	// ExpectedDigest pins the content: a write whose content hashes differently is refused.
	ExpectedDigest string `json:"expected_digest,omitempty" doc:"sha256:<hex> the content must have."`
}

// Dataset is a dataset as the server reports it.
type Dataset struct {
	Project string `json:"project" readOnly:"true"`
	Name    string `json:"name" required:"true"`
	DatasetSpec
	// Version increases each time the profiled content changes.
	Version   int64  `json:"version" readOnly:"true"`
	Digest    string `json:"digest,omitempty" readOnly:"true"`
	RowCount  int64  `json:"row_count" readOnly:"true"`
	SizeBytes int64  `json:"size_bytes" readOnly:"true"`
	// Profiled says whether the server could read the content.
	Profiled bool `json:"profiled" readOnly:"true"`
	Meta
}

// CreateDatasetRequest is the body of POST .../datasets.
type CreateDatasetRequest struct {
	Name string `json:"name" required:"true"`
	DatasetSpec
}

// DatasetProfile summarises a dataset's content, column by column; monitors use it as a baseline.
type DatasetProfile struct {
	Version  int64           `json:"version"`
	Digest   string          `json:"digest"`
	RowCount int64           `json:"row_count"`
	Columns  []ColumnProfile `json:"columns"`
}

// ColumnProfile is the statistical profile of one column.
type ColumnProfile struct {
	Name string `json:"name"`
	// Kind is numeric or categorical.
	Kind    string `json:"kind" enum:"numeric,categorical"`
	Type    string `json:"type"`
	Count   int64  `json:"count" doc:"Non-missing values."`
	Missing int64  `json:"missing"`

	Min       *float64  `json:"min,omitempty"`
	Max       *float64  `json:"max,omitempty"`
	Mean      *float64  `json:"mean,omitempty"`
	Stddev    *float64  `json:"stddev,omitempty"`
	Quantiles []float64 `json:"quantiles,omitempty" doc:"Deciles: the 0.1, 0.2, ... 0.9 quantiles."`
	// Histogram has len(Edges)-1 bins; bin i counts values in [Edges[i], Edges[i+1]).
	Histogram *Histogram `json:"histogram,omitempty"`
	// Categories counts each distinct value of a categorical column (the most frequent ones).
	Categories map[string]int64 `json:"categories,omitempty"`
	// OtherCount counts values beyond the kept categories.
	OtherCount int64 `json:"other_count,omitempty"`
}

// Histogram is a fixed-edge histogram.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Counts []int64   `json:"counts"`
}

// Step is one node of a pipeline's DAG.
type Step struct {
	Name      string            `json:"name" required:"true"`
	Command   []string          `json:"command" required:"true" minItems:"1" doc:"argv of the step's process."`
	Image     string            `json:"image,omitempty" doc:"Container image, for executors that run containers."`
	Env       map[string]string `json:"env,omitempty"`
	DependsOn []string          `json:"depends_on,omitempty"`
	Timeout   string            `json:"timeout,omitempty" doc:"Go duration such as 10m; the step is killed after it."`
	Retries   int               `json:"retries,omitempty" minimum:"0" maximum:"10"`
}

// PipelineSpec is what a user declares about a pipeline.
type PipelineSpec struct {
	Description string            `json:"description,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty" doc:"Parameter names and their defaults."`
	Steps       []Step            `json:"steps" required:"true" minItems:"1"`
	Labels      map[string]string `json:"labels,omitempty"`
	// Datasets are the pipeline's inputs: steps see their URIs, and a registered
	// version records the first one (name and version) as its lineage.
	Datasets []string `json:"datasets,omitempty" doc:"Names of input datasets in the same project."`
	// PromoteTo names an alias that a successful run's registered version moves
	// to when it passes that alias's gates.
	PromoteTo string `json:"promote_to,omitempty" doc:"Alias to move to a run's registered version when it passes the alias's gates."`
}

// Pipeline is a pipeline as the server reports it.
type Pipeline struct {
	Project string `json:"project" readOnly:"true"`
	Name    string `json:"name" required:"true"`
	PipelineSpec
	// Revision names the immutable snapshot of the current spec.
	Revision int64 `json:"revision" readOnly:"true"`
	Meta
}

// CreatePipelineRequest is the body of POST .../pipelines.
type CreatePipelineRequest struct {
	Name string `json:"name" required:"true"`
	PipelineSpec
}

// PipelineRevision is an immutable snapshot of a pipeline's runnable spec.
type PipelineRevision struct {
	Pipeline   string            `json:"pipeline"`
	Revision   int64             `json:"revision"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Steps      []Step            `json:"steps"`
	Datasets   []string          `json:"datasets,omitempty"`
	PromoteTo  string            `json:"promote_to,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}

// Run states.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// RunFinished says whether a run state is final.
func RunFinished(state string) bool {
	return state == RunSucceeded || state == RunFailed || state == RunCancelled
}

// PipelineRun is one execution of a pipeline revision.
type PipelineRun struct {
	Project  string `json:"project"`
	Pipeline string `json:"pipeline"`
	// ID numbers the runs of a pipeline 1, 2, 3, ...
	ID       int64 `json:"id"`
	Revision int64 `json:"revision"`
	// Trigger is manual, schedule:<name> or monitor:<name>.
	Trigger string `json:"trigger"`
	// TriggerEvaluation is the monitor evaluation that started the run (trigger monitor:<name>).
	TriggerEvaluation int64             `json:"trigger_evaluation,omitempty"`
	Parameters        map[string]string `json:"parameters,omitempty"`
	// State is queued, running, succeeded, failed or cancelled.
	State           string     `json:"state" enum:"queued,running,succeeded,failed,cancelled"`
	Error           string     `json:"error,omitempty"`
	Steps           []RunStep  `json:"steps"`
	CancelRequested bool       `json:"cancel_requested,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	// Model and ModelVersion name the version the run registered, if any.
	Model        string     `json:"model,omitempty"`
	ModelVersion int64      `json:"model_version,omitempty"`
	Promotion    *Promotion `json:"promotion,omitempty"`
	// InputVersions are the versions of the pipeline's datasets the steps read.
	InputVersions map[string]int64 `json:"input_versions,omitempty"`
	Meta
}

// RunStep is the state of one step of a run.
type RunStep struct {
	Name       string     `json:"name"`
	State      string     `json:"state" doc:"pending, running, succeeded, failed, skipped or cancelled"`
	Attempts   int        `json:"attempts"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	ExitCode   *int       `json:"exit_code,omitempty"`
	Error      string     `json:"error,omitempty"`
	LogTail    string     `json:"log_tail,omitempty"`
}

// Promotion records what a run did with its pipeline's promote_to alias.
type Promotion struct {
	Alias    string `json:"alias"`
	Promoted bool   `json:"promoted"`
	// Reason says why the alias was not moved (a gate failed).
	Reason string `json:"reason,omitempty"`
}

// CreateRunRequest is the body of POST .../pipelines/{name}/runs.
type CreateRunRequest struct {
	// Parameters override the pipeline's defaults; unknown names are refused.
	Parameters map[string]string `json:"parameters,omitempty"`
}

// RunLog is the kept output of one step (the tail, when it outgrew the bound).
type RunLog struct {
	Step      string `json:"step"`
	Text      string `json:"text"`
	Truncated bool   `json:"truncated,omitempty"`
}

// Gate is a metric condition a model version must meet.
type Gate struct {
	Metric    string   `json:"metric" required:"true"`
	Op        string   `json:"op" required:"true" enum:">=,>,<=,<,=="`
	Threshold float64  `json:"threshold"`
	Aliases   []string `json:"aliases,omitempty" doc:"Aliases the gate guards; empty means every alias."`
}

// ModelSpec is what a user declares about a model.
type ModelSpec struct {
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Gates       []Gate            `json:"gates,omitempty"`
}

// Model is a registered model as the server reports it.
type Model struct {
	Project string `json:"project" readOnly:"true"`
	Name    string `json:"name" required:"true"`
	ModelSpec
	LatestVersion int64            `json:"latest_version" readOnly:"true" doc:"0 while the model has no version."`
	Aliases       map[string]int64 `json:"aliases,omitempty" readOnly:"true" doc:"Alias name to version."`
	Meta
}

// CreateModelRequest is the body of POST .../models.
type CreateModelRequest struct {
	Name string `json:"name" required:"true"`
	ModelSpec
}

// GateResult is a gate evaluated against one version's metrics.
type GateResult struct {
	Gate
	// Value is nil when the version has no such metric, which fails the gate.
	Value  *float64 `json:"value"`
	Passed bool     `json:"passed"`
}

// ModelVersionSpec is what a user declares about a model version. Everything but
// Description and Labels is immutable.
type ModelVersionSpec struct {
	ArtifactURI    string             `json:"artifact_uri" required:"true"`
	Metrics        map[string]float64 `json:"metrics,omitempty"`
	Params         map[string]string  `json:"params,omitempty"`
	Dataset        string             `json:"dataset,omitempty" doc:"Name of the training dataset (lineage)."`
	DatasetVersion int64              `json:"dataset_version,omitempty" doc:"Defaults to the dataset's current version."`
	PipelineRunID  string             `json:"pipeline_run_id,omitempty"`
	Description    string             `json:"description,omitempty"`
	Labels         map[string]string  `json:"labels,omitempty"`
}

// ModelVersion is one registered version of a model.
type ModelVersion struct {
	Project string `json:"project" readOnly:"true"`
	Model   string `json:"model" readOnly:"true"`
	Version int64  `json:"version" readOnly:"true"`
	ModelVersionSpec
	GateResults []GateResult `json:"gate_results" readOnly:"true"`
	Aliases     []string     `json:"aliases,omitempty" readOnly:"true"`
	Meta
}

// ModelVersionUpdate is the body of PUT .../versions/{version}: only these fields are mutable.
type ModelVersionUpdate struct {
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// ModelAlias points a model's alias at one version.
type ModelAlias struct {
	Project string `json:"project" readOnly:"true"`
	Model   string `json:"model" readOnly:"true"`
	Alias   string `json:"alias" required:"true"`
	Version int64  `json:"version" required:"true" minimum:"1"`
	Meta
}

// ModelAliasUpdate is the body of PUT .../aliases/{alias}.
type ModelAliasUpdate struct {
	Version int64 `json:"version" required:"true" minimum:"1"`
}

// ScheduleSpec is what a user declares about a retraining schedule.
type ScheduleSpec struct {
	Pipeline          string            `json:"pipeline" required:"true"`
	Cron              string            `json:"cron,omitempty" doc:"Five-field cron expression; exactly one of cron and interval."`
	Interval          string            `json:"interval,omitempty" doc:"Go duration such as 6h; exactly one of cron and interval."`
	Timezone          string            `json:"timezone,omitempty" doc:"IANA zone the cron is read in; default UTC."`
	Parameters        map[string]string `json:"parameters,omitempty"`
	ConcurrencyPolicy string            `json:"concurrency_policy,omitempty" enum:"allow,forbid,replace" doc:"Default forbid."`
	Catchup           bool              `json:"catchup,omitempty" doc:"Run missed firings after downtime."`
	Paused            bool              `json:"paused,omitempty"`
	StartAt           *time.Time        `json:"start_at,omitempty"`
	EndAt             *time.Time        `json:"end_at,omitempty"`
	Description       string            `json:"description,omitempty"`
}

// Schedule is a retraining schedule as the server reports it.
type Schedule struct {
	Project string `json:"project" readOnly:"true"`
	Name    string `json:"name" required:"true"`
	ScheduleSpec
	// NextRunAt is nil when the schedule is paused or has ended.
	NextRunAt *time.Time `json:"next_run_at,omitempty" readOnly:"true"`
	// LastRunID and LastRunState describe the newest run the schedule started.
	LastRunID    int64      `json:"last_run_id,omitempty" readOnly:"true"`
	LastRunState string     `json:"last_run_state,omitempty" readOnly:"true"`
	LastFiredAt  *time.Time `json:"last_fired_at,omitempty" readOnly:"true"`
	// LastSkip says why the latest due time started no run (concurrency_policy forbid).
	LastSkip string `json:"last_skip,omitempty" readOnly:"true"`
	Meta
}

// ScheduleState is what the firing engine keeps about a schedule.
type ScheduleState struct {
	// NextFireAt is the due time the engine has queued.
	NextFireAt  *time.Time `json:"next_fire_at,omitempty"`
	LastFiredAt *time.Time `json:"last_fired_at,omitempty"`
	LastRunID   int64      `json:"last_run_id,omitempty"`
	// LastRunPipeline is the pipeline LastRunID belongs to (the schedule's pipeline may change).
	LastRunPipeline string `json:"last_run_pipeline,omitempty"`
	LastSkip        string `json:"last_skip,omitempty"`
	// Generation of the schedule the queued firing was computed for.
	ForGeneration int64 `json:"for_generation"`
}

// CreateScheduleRequest is the body of POST .../schedules.
type CreateScheduleRequest struct {
	Name string `json:"name" required:"true"`
	ScheduleSpec
}

// Token roles.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleViewer = "viewer"
)

// AllProjects scopes a token to every project.
const AllProjects = "*"

// Token describes an API token; the secret itself is only ever returned once, at creation.
type Token struct {
	ID          string    `json:"id" readOnly:"true"`
	Role        string    `json:"role" required:"true" enum:"admin,editor,viewer"`
	Project     string    `json:"project,omitempty" doc:"Project the token may act in; * or empty for all."`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at" readOnly:"true"`
	// Secret is set only in the response to a create.
	Secret string `json:"secret,omitempty" readOnly:"true"`
}

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	Role        string `json:"role" required:"true" enum:"admin,editor,viewer"`
	Project     string `json:"project,omitempty"`
	Description string `json:"description,omitempty"`
}

// List is one page of a list endpoint.
type List[T any] struct {
	Items []T `json:"items"`
	// NextPageToken is empty on the last page.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// Problem is an RFC 9457 problem document as the server writes it.
type Problem struct {
	Type     string         `json:"type,omitempty"`
	Title    string         `json:"title,omitempty"`
	Status   int            `json:"status,omitempty"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []ProblemError `json:"errors,omitempty"`
}

// ProblemError points at the part of the request at fault.
type ProblemError struct {
	Message string `json:"message,omitempty"`
	// Location is path-like: body.steps[1].depends_on, path.name, header.If-Match.
	Location string `json:"location,omitempty"`
	Value    any    `json:"value,omitempty"`
}

package api

import "time"

// AuditRecord is one successful change made through the API. It says who
// changed what and how the object's generation moved; it never holds request
// or response bodies, so secrets (token secrets, webhook secrets) cannot leak into it.
type AuditRecord struct {
	// ID numbers records across the server, in the order they were written.
	ID     int64      `json:"id" doc:"Sequence number; newer records have larger ids."`
	Time   time.Time  `json:"time"`
	Actor  AuditActor `json:"actor"`
	Action string     `json:"action" doc:"The operation, such as update-pipeline or cancel-run."`
	// Kind is the store kind of the object: project, dataset, pipeline,
	// pipeline_run, model, model_version, model_alias, schedule, monitor,
	// deployment or token.
	Kind    string `json:"kind" doc:"Kind of object changed, such as pipeline or model_version."`
	Project string `json:"project,omitempty" doc:"Project of the object; empty for tokens."`
	// Parent is the owning object of nested kinds: the model of a version or
	// alias, the pipeline of a run.
	Parent string `json:"parent,omitempty"`
	Name   string `json:"name" doc:"Object name (a version or run number for those kinds, a token id for tokens)."`
	// GenerationBefore and GenerationAfter are 0 when there was no object
	// (before a create, after a delete).
	GenerationBefore int64 `json:"generation_before"`
	GenerationAfter  int64 `json:"generation_after"`
	Status           int   `json:"status" doc:"HTTP status of the response."`
}

// AuditActor is who made a change: the token, never its secret.
type AuditActor struct {
	TokenID string `json:"token_id"`
	Role    string `json:"role"`
	// Project is the token's scope: a project name or * for all.
	Project string `json:"project,omitempty"`
}

package store

import "strconv"

// Keys of each kind, in one place so every package addresses objects alike.

func ProjectKey(name string) Key { return Key{Kind: KindProject, Name: name} }

func DatasetKey(project, name string) Key {
	return Key{Kind: KindDataset, Project: project, Name: name}
}

func DatasetProfileKey(project, name string) Key {
	return Key{Kind: KindDatasetProfile, Project: project, Name: name}
}

func PipelineKey(project, name string) Key {
	return Key{Kind: KindPipeline, Project: project, Name: name}
}

func PipelineRevisionKey(project, pipeline string, rev int64) Key {
	return Key{Kind: KindPipelineRevision, Project: project, Parent: pipeline, Name: strconv.FormatInt(rev, 10)}
}

// PipelineRevisionScope is the sequence that numbers a pipeline's revisions.
func PipelineRevisionScope(project, pipeline string) string {
	return "pipeline_revision/" + project + "/" + pipeline
}

func PipelineRunKey(project, pipeline string, id int64) Key {
	return Key{Kind: KindPipelineRun, Project: project, Parent: pipeline, Name: strconv.FormatInt(id, 10)}
}

// PipelineRunScope is the sequence that numbers a pipeline's runs.
func PipelineRunScope(project, pipeline string) string {
	return "pipeline_run/" + project + "/" + pipeline
}

func RunLogKey(project, pipeline string, id int64, step string) Key {
	return Key{Kind: KindRunLog, Project: project, Parent: pipeline + "/" + strconv.FormatInt(id, 10), Name: step}
}

func ModelKey(project, name string) Key { return Key{Kind: KindModel, Project: project, Name: name} }

func ModelVersionKey(project, model string, version int64) Key {
	return Key{Kind: KindModelVersion, Project: project, Parent: model, Name: strconv.FormatInt(version, 10)}
}

// ModelVersionScope is the sequence that numbers a model's versions.
func ModelVersionScope(project, model string) string { return "model_version/" + project + "/" + model }

func ModelAliasKey(project, model, alias string) Key {
	return Key{Kind: KindModelAlias, Project: project, Parent: model, Name: alias}
}

func ScheduleKey(project, name string) Key {
	return Key{Kind: KindSchedule, Project: project, Name: name}
}

func ScheduleStateKey(project, name string) Key {
	return Key{Kind: KindScheduleState, Project: project, Name: name}
}

func MonitorKey(project, name string) Key {
	return Key{Kind: KindMonitor, Project: project, Name: name}
}

func MonitorStateKey(project, name string) Key {
	return Key{Kind: KindMonitorState, Project: project, Name: name}
}

func MonitorEvaluationKey(project, monitor string, id int64) Key {
	return Key{Kind: KindMonitorEvaluation, Project: project, Parent: monitor, Name: strconv.FormatInt(id, 10)}
}

// MonitorEvaluationScope is the sequence that numbers a monitor's evaluations.
func MonitorEvaluationScope(project, monitor string) string {
	return "monitor_evaluation/" + project + "/" + monitor
}

func DeploymentKey(project, name string) Key {
	return Key{Kind: KindDeployment, Project: project, Name: name}
}

func DeploymentStateKey(project, name string) Key {
	return Key{Kind: KindDeploymentState, Project: project, Name: name}
}

// AuditScope is the sequence that numbers audit records, across all
// projects. On PostgreSQL it is a database sequence, which holds no lock:
// ids increase in the order changes take them, but may skip, and a change
// may commit after one with a larger id (see sqlstore's NextSequence).
const AuditScope = "audit"

// AuditKey addresses audit record seq in a stream: stream "" holds every
// record, stream <project> a copy of the records about that project, so each
// stream lists newest first on its own.
func AuditKey(stream string, seq int64) Key {
	return Key{Kind: KindAudit, Parent: stream, Name: strconv.FormatInt(seq, 10)}
}

# The newest run of the pipeline (set run_id to read a given one).
data "mlops_pipeline_run" "latest" {
  project  = "churn"
  pipeline = "train"
}

output "last_training" {
  value = {
    run      = data.mlops_pipeline_run.latest.id
    trigger  = data.mlops_pipeline_run.latest.trigger # manual or schedule:<name>
    state    = data.mlops_pipeline_run.latest.state
    failed   = [for s in data.mlops_pipeline_run.latest.steps : s.name if s.state == "failed"]
    version  = data.mlops_pipeline_run.latest.model_version # null when the run registered none
    promoted = data.mlops_pipeline_run.latest.promoted      # null without promote_to
    why_not  = data.mlops_pipeline_run.latest.promotion_reason
  }
}

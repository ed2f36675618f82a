data "mlops_monitor" "churn_inputs" {
  project = "churn"
  name    = "churn-inputs"
}

output "drift" {
  value = {
    status     = data.mlops_monitor.churn_inputs.status # pending, ok, drifting, insufficient_data or error
    checked_at = data.mlops_monitor.churn_inputs.last_evaluated_at
    # null until the first evaluation
    share   = try(data.mlops_monitor.churn_inputs.last_evaluation.drift_share, null)
    drifted = try(data.mlops_monitor.churn_inputs.last_evaluation.drifted_feature_names, [])
  }
}

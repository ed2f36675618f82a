# Read at every plan, so it follows rollouts started outside this
# configuration, such as a promotion of the alias the deployment follows.
data "mlops_deployment" "churn_api" {
  project = "churn"
  name    = "churn-api"
}

output "churn_api" {
  value = {
    predict_url = "${data.mlops_deployment.churn_api.url}/predict"
    phase       = data.mlops_deployment.churn_api.phase # progressing, healthy, degraded or rolled_back
    serving     = data.mlops_deployment.churn_api.stable_version
    canary      = data.mlops_deployment.churn_api.canary_version # 0 when no canary runs
    message     = data.mlops_deployment.churn_api.message        # why, such as a rollback's failing analysis
  }
}

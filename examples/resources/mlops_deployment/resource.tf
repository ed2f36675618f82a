# Serves whatever version the champion alias points at, behind mlopsd's
# gateway. Promoting a new version to champion (by mlops_model_alias or a
# pipeline's promote_to) rolls it out as a canary: 10 % of the traffic for
# five minutes, then 50 % for five minutes, then all of it. A step whose
# canary errs or slows down rolls back to the version that served before.
resource "mlops_deployment" "churn_api" {
  project     = "churn"
  name        = "churn-api"
  description = "Scores customers for the retention team"
  model       = mlops_model.churn.name
  alias       = mlops_model_alias.champion.alias # or: version = mlops_model_version.v1.version

  runtime = {
    # mlopsd launches this per version and replica, with PORT (to listen on at
    # 127.0.0.1), MLOPS_ARTIFACT_URI, MLOPS_MODEL and MLOPS_MODEL_VERSION set,
    # and sends it traffic once health_path answers 2xx.
    command     = ["/opt/models/bin/modelserver"]
    health_path = "/healthz"
    env         = { GOMAXPROCS = "2" }
    # Or route to servers that already run, one per version:
    # url = "http://models.internal:8501/churn/v{version}"
  }
  replicas = 2

  strategy = {
    type          = "canary"
    steps         = [10, 50]
    step_interval = "5m"
    # A step passes when the canary served at least min_requests requests,
    # at most max_error_rate of them failed (5xx or no connection) and
    # their p99 latency stayed under max_latency_p99_ms.
    max_error_rate     = 0.01
    max_latency_p99_ms = 250
    min_requests       = 200
    auto_rollback      = true # false holds a failing canary (phase degraded) for a human
  }

  # Keep a tenth of the requests for a mlops_monitor with deployment = "churn-api".
  prediction_logging = {
    sample_rate = 0.1
  }

  labels = { team = "retention" }

  # Create and update wait until the rollout settles (phase healthy) and
  # fail with the reason when it rolls back; a canary needs at least
  # steps x step_interval.
  timeouts = {
    create = "10m"
    update = "20m"
  }
}

output "churn_api_predict_url" {
  description = "POST {\"instances\": [...]} here with a bearer token that may read the project."
  value       = "${mlops_deployment.churn_api.url}/predict"
}

output "churn_api_rollout" {
  value = {
    phase  = mlops_deployment.churn_api.phase # progressing, healthy, degraded or rolled_back
    stable = mlops_deployment.churn_api.stable_version
    canary = mlops_deployment.churn_api.canary_version # 0 when no canary runs
    weight = mlops_deployment.churn_api.canary_weight
  }
}

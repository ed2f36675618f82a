resource "mlops_retraining_schedule" "nightly" {
  project            = "churn"
  name               = "nightly"
  pipeline           = mlops_pipeline.train.name
  cron               = "0 3 * * *"
  timezone           = "Europe/Berlin"
  parameters         = { learning_rate = "0.05" }
  concurrency_policy = "forbid"
}

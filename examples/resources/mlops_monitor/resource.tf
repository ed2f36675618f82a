# The training data is the reference; the live inputs are re-read and
# compared with it every interval.
resource "mlops_dataset" "customers_live" {
  project = "churn"
  name    = "customers-live"
  uri     = "file:///srv/data/customers-last-7-days.csv" # refreshed by an ETL job
  format  = "csv"
}

variable "drift_webhook_secret" {
  description = "Shared secret the alert receiver verifies X-Mlops-Signature with."
  type        = string
  sensitive   = true
}

resource "mlops_monitor" "churn_inputs" {
  project          = "churn"
  name             = "churn-inputs"
  description      = "Live customers against the training data"
  model            = mlops_model.churn.name
  baseline_dataset = mlops_dataset.customers.name
  current_dataset  = mlops_dataset.customers_live.name

  # Compare these columns only (unset: every column of the baseline).
  features = ["tenure_months", "monthly_spend", "plan"]

  # Numeric columns by PSI (drift at >= 0.2 instead of the default 0.1),
  # categorical ones by Jensen-Shannon distance (default threshold 0.1).
  metric             = "psi"
  threshold          = 0.2
  categorical_metric = "jensen_shannon"
  # Spend is noisy: tolerate more before calling it drift.
  feature_thresholds = { monthly_spend = 0.3 }

  # The dataset drifts when at least a third of the judged features do;
  # a feature needs 100 values on each side to be judged at all.
  drift_share = 0.34
  min_samples = 100
  interval    = "1h"

  # When the monitor starts drifting: a signed POST to the receiver, and a
  # run of the nightly schedule's pipeline (trigger "monitor:churn-inputs"),
  # at most one per cooldown.
  notification = {
    url    = "https://alerts.example.com/mlops/drift"
    secret = var.drift_webhook_secret # never read back from the server
  }
  retrain_schedule = mlops_retraining_schedule.nightly.name
  cooldown         = "12h"

  labels = { owner = "growth" }
}

output "churn_inputs_status" {
  value = mlops_monitor.churn_inputs.status # pending, ok, drifting, insufficient_data or error
}

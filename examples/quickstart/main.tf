# The quickstart: one project with a validated dataset, a training pipeline,
# a gated model with a registered version, a champion alias and a nightly
# retraining schedule. Run mlopsd from the repository root (its data root),
# export MLOPS_ENDPOINT and MLOPS_TOKEN, then terraform apply here.

terraform {
  required_providers {
    mlops = {
      source = "mlopsplane/mlops"
    }
  }
}

# endpoint and token come from MLOPS_ENDPOINT and MLOPS_TOKEN.
provider "mlops" {}

resource "mlops_project" "quickstart" {
  name        = "quickstart"
  description = "Customer churn, end to end"
}

resource "mlops_dataset" "churn" {
  project     = mlops_project.quickstart.name
  name        = "churn"
  uri         = "file://${abspath(path.module)}/churn.csv"
  format      = "csv"
  description = "120 customers with their plan, tenure and whether they left"
  schema = [
    { name = "customer_id", type = "string" },
    { name = "tenure_months", type = "integer" },
    { name = "monthly_spend", type = "number" },
    { name = "plan", type = "string" },
    { name = "support_tickets", type = "integer" },
    { name = "churned", type = "boolean" },
  ]
}

resource "mlops_pipeline" "train" {
  project     = mlops_project.quickstart.name
  name        = "train"
  description = "Learn the churn rate per plan and score it"
  parameters  = { threshold = "0.5" }
  steps = [
    {
      name    = "train"
      command = ["sh", "${abspath(path.module)}/train.sh", "${abspath(path.module)}/churn.csv"]
      timeout = "5m"
    },
  ]
}

resource "mlops_model" "churn" {
  project     = mlops_project.quickstart.name
  name        = "churn-classifier"
  description = "Predicts which customers leave"
  gates = [
    { metric = "accuracy", op = ">=", threshold = 0.7, aliases = ["champion"] },
  ]
}

resource "mlops_model_version" "baseline" {
  project      = mlops_project.quickstart.name
  model        = mlops_model.churn.name
  artifact_uri = "file://${abspath(path.module)}/model.txt"
  metrics      = { accuracy = 0.725 }
  params       = { threshold = "0.5" }
  dataset      = mlops_dataset.churn.name
  description  = "Per-plan churn rates"
}

resource "mlops_model_alias" "champion" {
  project = mlops_project.quickstart.name
  model   = mlops_model.churn.name
  alias   = "champion"
  version = mlops_model_version.baseline.version
}

resource "mlops_retraining_schedule" "nightly" {
  project  = mlops_project.quickstart.name
  name     = "nightly"
  pipeline = mlops_pipeline.train.name
  cron     = "0 3 * * *"
  timezone = "UTC"
}

output "champion_version" {
  value = mlops_model_alias.champion.version
}

output "next_retraining" {
  value = mlops_retraining_schedule.nightly.next_run_at
}

# The quickstart: one project with a validated dataset, a training pipeline,
# a gated model with a registered version, a champion alias and a nightly
# retraining schedule. Each run of the pipeline trains a new version with the
# Go trainer in examples/trainer and promotes it to staging when it passes
# the staging gate. Run mlopsd from the repository root (its data root),
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

variable "repository" {
  description = "Checkout of terraform-provider-mlops whose examples/trainer the pipeline runs; defaults to the one this directory is in."
  type        = string
  default     = null
}

locals {
  # A step runs in a directory of mlopsd's choosing, so its paths are absolute.
  repository = coalesce(var.repository, abspath("${path.module}/../.."))
}

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
  description = "Fit a logistic-regression churn classifier and promote it to staging"
  # The trainer reads these as MLOPS_PARAM_LEARNING_RATE and MLOPS_PARAM_EPOCHS.
  parameters = { learning_rate = "0.1", epochs = "300" }
  datasets   = [mlops_dataset.churn.name]
  # Not champion: that alias is mlops_model_alias.champion's, and a run moving
  # it would undo what Terraform declares (and the next apply would move it back).
  promote_to = "staging"
  steps = [
    {
      name = "train"
      # go -C builds in the checkout whatever the step's working directory; the
      # first run compiles the trainer (needs HOME for Go's build cache).
      command = ["go", "-C", local.repository, "run", "./examples/trainer", "--data", "${abspath(path.module)}/churn.csv", "--model", mlops_model.churn.name]
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
    { metric = "auc", op = ">=", threshold = 0.8, aliases = ["staging"] },
  ]
  # Pipeline runs register versions Terraform does not manage; without this,
  # terraform destroy would refuse to delete a model that still has them.
  force_destroy = true
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

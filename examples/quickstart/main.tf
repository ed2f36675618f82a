# The quickstart: one project with a validated dataset, a training pipeline,
# a gated model with a registered version, a champion alias, a nightly
# retraining schedule, a deployment serving the champion behind the gateway
# and a drift monitor watching the requests it serves. Each run of the
# pipeline trains a new version with the Go trainer in examples/trainer and
# promotes it to staging when it passes the staging gate. Run mlopsd from the
# repository root (its data root), export MLOPS_ENDPOINT and MLOPS_TOKEN, then
# terraform apply here.

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

variable "promote_to" {
  description = "Alias each pipeline run moves to the version it trains, when that version passes the alias's gates. make demo sets champion, the alias the deployment follows, so a retrained version rolls out without a human."
  type        = string
  default     = "staging"
}

variable "monitor_interval" {
  description = "How often the monitor compares the deployment's requests with churn.csv (at least 10s)."
  type        = string
  default     = "1h"
}

variable "canary_step_interval" {
  description = "How long each canary step of the deployment bakes before its analysis."
  type        = string
  default     = "1m"
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
  # staging by default, not champion: that alias is mlops_model_alias.champion's,
  # and a run moving it would undo what Terraform declares (the next apply would
  # move it back). make demo moves champion anyway to show the whole loop.
  promote_to = var.promote_to
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
  project = mlops_project.quickstart.name
  model   = mlops_model.churn.name
  # What examples/trainer wrote on churn.csv; examples/modelserver serves it.
  artifact_uri = "file://${abspath(path.module)}/model.bin.json"
  metrics      = { accuracy = 0.8, auc = 0.875 }
  params       = { learning_rate = "0.1", epochs = "300" }
  dataset      = mlops_dataset.churn.name
  description  = "Logistic regression trained by examples/trainer"
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

# Serves whatever version champion points at: moving the alias rolls the
# deployment to the new version as a canary (10 %, then 50 %, each for
# canary_step_interval), rolled back on its own if the canary errs or slows down.
resource "mlops_deployment" "churn_api" {
  project = mlops_project.quickstart.name
  name    = "churn-api"
  model   = mlops_model.churn.name
  alias   = mlops_model_alias.champion.alias
  runtime = {
    # mlopsd starts this per version with PORT and MLOPS_ARTIFACT_URI set;
    # the first start compiles the server.
    command     = ["go", "-C", local.repository, "run", "./examples/modelserver"]
    health_path = "/healthz"
  }
  strategy = {
    type               = "canary"
    steps              = [10, 50]
    step_interval      = var.canary_step_interval
    max_error_rate     = 0.05
    max_latency_p99_ms = 1000 # generous: the demo may share a busy laptop
    min_requests       = 20
  }
  # Keep a tenth of the requests for the monitor below.
  prediction_logging = {
    sample_rate = 0.1
  }
}

# Compares what clients send the deployment with the training data every
# monitor_interval (an hour by default); when they drift apart it retrains
# through the nightly schedule's pipeline.
resource "mlops_monitor" "churn_inputs" {
  project          = mlops_project.quickstart.name
  name             = "churn-inputs"
  model            = mlops_model.churn.name
  baseline_dataset = mlops_dataset.churn.name
  deployment       = mlops_deployment.churn_api.name
  features         = ["tenure_months", "monthly_spend", "plan", "support_tickets"]
  interval         = var.monitor_interval
  retrain_schedule = mlops_retraining_schedule.nightly.name
  cooldown         = "24h"
}

output "predict_url" {
  description = "POST {\"instances\": [{...}]} here with the token as a bearer token."
  value       = "${mlops_deployment.churn_api.url}/predict"
}

output "champion_version" {
  value = mlops_model_alias.champion.version
}

output "next_retraining" {
  value = mlops_retraining_schedule.nightly.next_run_at
}

# Moving the alias is one atomic write; a version that fails a gate guarding
# the alias is refused at plan time with the metric, its value and the threshold.
resource "mlops_model_alias" "champion" {
  project = "churn"
  model   = mlops_model.churn.name
  alias   = "champion"
  version = mlops_model_version.v1.version
}

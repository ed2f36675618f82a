# Whatever version holds the champion alias (omit alias and version for the latest).
data "mlops_model_version" "champion" {
  project = "churn"
  model   = "churn-classifier"
  alias   = "champion"
}

output "serving_artifact" {
  value = data.mlops_model_version.champion.artifact_uri
}

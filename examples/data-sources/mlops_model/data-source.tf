data "mlops_model" "churn" {
  project = "churn"
  name    = "churn-classifier"
}

output "champion_version" {
  value = lookup(data.mlops_model.churn.aliases, "champion", null)
}

data "mlops_project" "churn" {
  name = "churn"
}

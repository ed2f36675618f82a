resource "mlops_project" "churn" {
  name        = "churn"
  description = "Customer churn prediction"
}

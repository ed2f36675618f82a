data "mlops_dataset" "customers" {
  project = "churn"
  name    = "customers"
}

output "customers_rows" {
  value = data.mlops_dataset.customers.row_count
}

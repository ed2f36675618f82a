resource "mlops_dataset" "customers" {
  project     = "churn"
  name        = "customers"
  uri         = "file:///srv/data/customers.csv" # local files are validated and profiled by mlopsd
  format      = "csv"
  description = "Monthly customer snapshot"
  labels      = { owner = "growth" }

  # The content must match: a wrong type or a missing column refuses the write.
  schema = [
    { name = "tenure_months", type = "integer" },
    { name = "monthly_spend", type = "number" },
    { name = "plan", type = "string" },
    { name = "churned", type = "boolean" },
  ]

  timeouts = {
    create = "20m" # profiling reads the whole file
  }
}

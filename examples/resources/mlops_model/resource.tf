resource "mlops_model" "churn" {
  project     = "churn"
  name        = "churn-classifier"
  description = "Predicts churn in the next 30 days"

  # A version must meet these to take an alias; gates without aliases guard every alias.
  gates = [
    { metric = "auc", op = ">=", threshold = 0.8 },
    { metric = "latency_p99_ms", op = "<", threshold = 50, aliases = ["champion"] },
  ]
}

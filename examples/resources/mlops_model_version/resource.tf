resource "mlops_model_version" "v1" {
  project      = "churn"
  model        = mlops_model.churn.name
  artifact_uri = "s3://models/churn/2026-11-01/model.onnx"
  metrics      = { auc = 0.86, latency_p99_ms = 31 }
  params       = { learning_rate = "0.1" }
  dataset      = mlops_dataset.customers.name
  description  = "Baseline gradient-boosted trees"
}

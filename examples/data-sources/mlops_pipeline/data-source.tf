data "mlops_pipeline" "train" {
  project = "churn"
  name    = "train"
}

output "train_revision" {
  value = data.mlops_pipeline.train.revision
}

terraform {
  required_providers {
    mlops = {
      source = "mlopsplane/mlops"
    }
  }
}

# endpoint and token can also come from MLOPS_ENDPOINT and MLOPS_TOKEN.
provider "mlops" {
  endpoint = "http://127.0.0.1:8080"
  token    = var.mlops_token
  project  = "churn" # default project for resources that do not set one
}

variable "mlops_token" {
  type      = string
  sensitive = true
}

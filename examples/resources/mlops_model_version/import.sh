# The ID is project/model/version.
terraform import mlops_model_version.v1 churn/churn-classifier/1

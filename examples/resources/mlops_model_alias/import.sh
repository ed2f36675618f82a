# The ID is project/model/alias.
terraform import mlops_model_alias.champion churn/churn-classifier/champion

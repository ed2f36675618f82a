# The ID is project/name; a bare name means the provider's project.
terraform import mlops_deployment.churn_api churn/churn-api

terraform import mlops_project.churn churn

# The ID is project/name; a bare name means the provider's project.
# notification.secret is never read back: it is null after import, and the
# next apply sends the configured one again.
terraform import mlops_monitor.example churn/churn-inputs

resource "mlops_pipeline" "train" {
  project     = "churn"
  name        = "train"
  description = "Prepare features, train and evaluate"
  parameters  = { learning_rate = "0.1", max_depth = "6" }

  # Steps see MLOPS_DATASET_CUSTOMERS_URI; a registered version records the
  # first dataset, at its current version, as lineage.
  datasets = [mlops_dataset.customers.name]
  # A run whose step writes model.json and metrics.json to $MLOPS_OUTPUT_DIR
  # registers a version; it takes this alias when it passes the alias's gates.
  # Pick an alias no mlops_model_alias resource manages.
  promote_to = "staging"

  steps = [
    {
      name    = "prepare"
      command = ["python3", "prepare.py"]
      timeout = "10m"
    },
    {
      name       = "train"
      command    = ["python3", "train.py"]
      depends_on = ["prepare"]
      env        = { OMP_NUM_THREADS = "2" }
      retries    = 1
      timeout    = "1h"
    },
    {
      name       = "evaluate"
      command    = ["python3", "evaluate.py"]
      depends_on = ["train"]
    },
  ]
}

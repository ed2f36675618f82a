resource "mlops_pipeline" "train" {
  project     = "churn"
  name        = "train"
  description = "Prepare features, train and evaluate"
  parameters  = { learning_rate = "0.1", max_depth = "6" }

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

#!/bin/sh
# A deliberately small trainer for the quickstart: it "learns" the churn rate
# of each plan from the CSV, scores itself on the same rows, and writes the
# metrics.json and model.json that mlopsd registers as a model version.
# Usage: train.sh <csv> [output-dir]
set -eu
data="$1"
out="${2:-${MLOPS_OUTPUT_DIR:-.}}"
mkdir -p "$out"
awk -F, -v out="$out" '
NR == 1 { next }
{ n[$4]++; if ($6 == "true") c[$4]++; rows++; label[rows] = $6; plan[rows] = $4 }
END {
  for (p in n) rate[p] = c[p] / n[p]
  for (i = 1; i <= rows; i++) {
    pred = (rate[plan[i]] >= 0.5) ? "true" : "false"
    if (pred == label[i]) correct++
  }
  printf "{\"accuracy\": %.4f, \"rows\": %d}\n", correct / rows, rows > (out "/metrics.json")
  printf "{\"model\": \"churn-classifier\", \"artifact\": \"model.txt\"}\n" > (out "/model.json")
  for (p in rate) printf "%s,%.4f\n", p, rate[p] > (out "/model.txt")
}' "$data"

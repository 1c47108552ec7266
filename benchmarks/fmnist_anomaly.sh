#!/usr/bin/env bash
# fmnist_anomaly: one-class anomaly detection on Fashion-MNIST, 10 classes x 3 seeds
# (configs/experiment/fmnist_anomaly.yaml), every run scored on the whole test split by every anomaly
# score of its inferred latents, beside the raw-pixel kNN / PCA / OC-SVM baselines.
#   bash benchmarks/fmnist_anomaly.sh [OUT] [train overrides, e.g. model=alad trainer.max_steps=5000]
# Writes OUT/train, OUT/evaluate and OUT/table.md (also printed): mean AUROC over the classes per score,
# mean ± std over seeds, then per class. EVAL_OVERRIDES adds evaluate settings (e.g. inference=hybrid).
set -euo pipefail
out=${1:-benchmarks/results/fmnist_anomaly/$(date +%Y-%m-%d_%H-%M-%S)}
shift || true

latentcli train -m experiment=fmnist_anomaly hydra.sweep.dir="$out/train" "$@"
latentcli evaluate sweep="$out/train" "metrics=[anomaly]" n=null n_samples=64 hydra.run.dir="$out/evaluate" \
  ${EVAL_OVERRIDES:-}
python "$(dirname "$0")/anomaly_table.py" "$out/evaluate" --per-class | tee "$out/table.md"

#!/usr/bin/env bash
# fmnist_anomaly: one-class anomaly detection on Fashion-MNIST, 10 classes x 3 seeds
# (configs/experiment/fmnist_anomaly.yaml), every run scored on the whole test split.
#   bash benchmarks/fmnist_anomaly.sh [OUT] [train overrides, e.g. model=bigan trainer.max_steps=5000]
# Writes OUT/train, OUT/evaluate and OUT/table.md (also printed; its last row is the mean over classes).
# The anomaly.combined columns (EGBAD's score) stay empty, with a warning, for models without an image discriminator.
set -euo pipefail
out=${1:-benchmarks/results/fmnist_anomaly/$(date +%Y-%m-%d_%H-%M-%S)}
shift || true

latentcli train -m experiment=fmnist_anomaly hydra.sweep.dir="$out/train" "$@"
latentcli evaluate sweep="$out/train" "metrics=[anomaly]" n=null hydra.run.dir="$out/evaluate"
python "$(dirname "$0")/table.py" "$out/evaluate" --mean-row \
  --columns anomaly.reconstruction.auroc,anomaly.reconstruction.auprc,anomaly.combined.auroc,anomaly.combined.auprc \
  | tee "$out/table.md"

#!/usr/bin/env bash
# speed: the training loop against a bare PyTorch loop (benchmarks/trainer_overhead.py), then the
# inversion benchmark (benchmarks/invert_speed.py) on a bigan trained for it (configs/experiment/speed.yaml).
#   bash benchmarks/speed.sh [OUT]
# Writes OUT/train, OUT/trainer_overhead.txt, OUT/invert_speed.txt and OUT/invert_speed.json.
set -euo pipefail
out=${1:-benchmarks/results/speed/$(date +%Y-%m-%d_%H-%M-%S)}
here=$(dirname "$0")
mkdir -p "$out"

python "$here/trainer_overhead.py" --steps 300 --repeats 3 | tee "$out/trainer_overhead.txt"
latentcli train experiment=speed trainer.progress=false hydra.run.dir="$out/train"
python "$here/invert_speed.py" "$out/train/checkpoints/last.ckpt" --out "$out/invert_speed.json" \
  | tee "$out/invert_speed.txt"

#!/usr/bin/env bash
# toy_modes: 60 runs on ring8 and grid25 (configs/experiment/toy_modes.yaml), the PacGAN mode count on
# each, and the table of means over seeds.
#   bash benchmarks/toy_modes.sh [OUT] [train overrides, e.g. trainer.max_steps=20000]
# Writes OUT/train, OUT/evaluate and OUT/table.md (also printed).
set -euo pipefail
out=${1:-benchmarks/results/toy_modes/$(date +%Y-%m-%d_%H-%M-%S)}
shift || true

latentcli train -m experiment=toy_modes hydra.sweep.dir="$out/train" "$@"
latentcli evaluate sweep="$out/train" hydra.run.dir="$out/evaluate"
python "$(dirname "$0")/table.py" "$out/evaluate" \
  --columns modes.modes_covered,modes.modes_covered_20,modes.high_quality_fraction,modes.reconstructed_into_own_mode \
  --percent modes.high_quality_fraction,modes.reconstructed_into_own_mode | tee "$out/table.md"

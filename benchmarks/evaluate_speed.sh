#!/usr/bin/env bash
# Evaluation speed: recon + quality + probe on the whole 10,000-image Fashion-MNIST test split, with the
# feature classifier already cached (the first command trains and caches it; it is not timed).
#   bash benchmarks/evaluate_speed.sh CKPT      (CKPT: a Fashion-MNIST checkpoint with an encoder)
set -euo pipefail
ckpt=${1:?usage: benchmarks/evaluate_speed.sh CKPT}
out=${OUT:-benchmarks/results/evaluate_speed}
latentcli evaluate ckpt="$ckpt" "metrics=[quality]" n=100 n_samples=100 hydra.run.dir="$out/warm-up" > /dev/null
time latentcli evaluate ckpt="$ckpt" "metrics=[recon,quality,probe]" n=null inference=encoder \
    hydra.run.dir="$out/timed"

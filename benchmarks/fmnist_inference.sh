#!/usr/bin/env bash
# fmnist_inference: train six models on Fashion-MNIST (configs/experiment/fmnist_inference.yaml), a latent
# regressor on the GAN's generator, then evaluate every model with inference encoder, optimize and hybrid.
#   bash benchmarks/fmnist_inference.sh [OUT] [train overrides, e.g. trainer.max_steps=20000]
# Writes OUT/train, OUT/regressor, OUT/evaluate*, and OUT/table.md (also printed).
set -euo pipefail
out=${1:-benchmarks/results/fmnist_inference/$(date +%Y-%m-%d_%H-%M-%S)}
shift || true
# The evaluation's size: 500 test images, 100 generated images for latent recovery, probes fit on 300
# inverted train images. Optimisation inverts each image for up to 500 steps, which dominates the cost.
# EVAL_OVERRIDES (environment) appends evaluate overrides, e.g. EVAL_OVERRIDES="n=null" for the whole test split.
read -ra extra <<< "${EVAL_OVERRIDES:-}"
sizes=(n=500 latent.n=100 probe.n_train=300 "metrics=[recon,latent,quality,probe,compression]" "${extra[@]}")

latentcli train -m experiment=fmnist_inference hydra.sweep.dir="$out/train" "$@"
gan=$(ls -d "$out"/train/*model-gan* | head -1)
latentcli train model=regressor dataset=fashion_mnist model.generator_ckpt="$gan/checkpoints/last.ckpt" \
  trainer.max_steps=${REGRESSOR_STEPS:-1000} trainer.progress=false hydra.run.dir="$out/regressor/0_model-regressor"
# A plain GAN has no encoder: the encoder and hybrid evaluations skip it; its encoder is the regressor.
latentcli evaluate -m sweep="$out/train" inference=encoder,optimize,hybrid "${sizes[@]}" \
  hydra.sweep.dir="$out/evaluate" hydra.sweep.subdir='${inference.method}'
latentcli evaluate -m sweep="$out/regressor" inference=encoder,hybrid "${sizes[@]}" \
  hydra.sweep.dir="$out/evaluate_regressor" hydra.sweep.subdir='${inference.method}'
python "$(dirname "$0")/table.py" "$out/evaluate" "$out/evaluate_regressor" \
  --columns recon.psnr,recon.ssim,latent.latent_error_mean,quality.fid,quality.kid,probe.latent.1nn,probe.latent.logistic,probe.pixels.1nn,probe.pixels.logistic,compression.latent_psnr.8_bits,recon.inversion_ms_per_item \
  --percent probe.latent.1nn,probe.latent.logistic,probe.pixels.1nn,probe.pixels.logistic | tee "$out/table.md"

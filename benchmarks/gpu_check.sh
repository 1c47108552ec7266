#!/usr/bin/env bash
# Does the CUDA path work, and how fast is it?  benchmarks/gpu_check.sh [--cpu-only] OUTDIR
#
# On a GPU (about 5 minutes on an H100): every model trains 200 steps on CUDA in fp32, bf16 and fp16 through
# `latentcli train` (plus one compiled run with CUDA graphs), invert and evaluate run on CUDA, a run stopped
# and resumed in deterministic mode ends bitwise equal to an unbroken one, and a throughput table (steps/s
# per model x precision, beside the CPU for a subset) is printed and written to OUTDIR/throughput.md, then the
# fused sweeps' table (10 runs one after another against fused, and PacGAN's 50 runs projected) to OUTDIR/fused.md.
# --cpu-only runs the same checks on the CPU with a few steps (does the script itself work?).
#
# Runs from the source tree with no install: PYTHON=... (default python3) needs torch and the other
# dependencies; if it lacks Hydra and the repository root has a .whl/ folder of wheels (hydra-core, omegaconf,
# antlr4-python3-runtime, hydra-joblib-launcher, PyYAML), they are unpacked into OUTDIR/deps without network.
set -euo pipefail

cpu_only=0
if [[ "${1:-}" == "--cpu-only" ]]; then cpu_only=1; shift; fi
if [[ $# -ne 1 ]]; then echo "usage: $0 [--cpu-only] OUTDIR" >&2; exit 2; fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# the runs below refuse a folder that already holds a run: a second check would fail on the first one's
if [[ -d "$1" && -n "$(ls -A "$1")" ]]; then echo "$1 is not empty: give a new OUTDIR" >&2; exit 2; fi
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HYDRA_FULL_ERROR=1

if ! "$PYTHON" -c "import hydra, omegaconf" 2>/dev/null; then
  if [[ ! -d "$ROOT/.whl" ]]; then echo "$PYTHON has no Hydra and there is no $ROOT/.whl/ to install it from" >&2; exit 2; fi
  "$PYTHON" - "$ROOT/.whl" "$OUT/deps" <<'EOF'
import pathlib, sys, zipfile
# wheels are zip files: unpacking them onto the path is all a pure-Python install needs
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    zipfile.ZipFile(wheel).extractall(sys.argv[2])
    print("unpacked", wheel.name)
EOF
  export PYTHONPATH="$PYTHONPATH:$OUT/deps"
  "$PYTHON" -c "import hydra, omegaconf, antlr4, yaml" || { echo "the wheels in .whl/ are not enough" >&2; exit 2; }
fi

if (( cpu_only )); then
  DEVICE=cpu; STEPS="${STEPS:-10}"; PRECISIONS=(32)
  MODELS=(gan bigan vae); DATASETS=(grid25 digits)
else
  DEVICE=cuda; STEPS="${STEPS:-200}"; PRECISIONS=(32 bf16 fp16)
  MODELS=(gan bigan ali alice vae vaegan aae); DATASETS=(grid25 digits)
  if "$PYTHON" -c "from latentcli.data.images import DEBIAN_FASHION_MNIST as d; exit(not d.is_dir())"; then
    DATASETS+=(fashion_mnist)
  fi
fi
models_csv=$(IFS=,; echo "${MODELS[*]}")
log="$OUT/gpu_check.log"
: >"$log"
failures=0
step() {  # step NAME COMMAND...: runs it, logs its output, records pass/fail
  local name="$1"; shift
  local start=$SECONDS
  if "$@" >>"$log" 2>&1; then
    echo "ok    $name ($((SECONDS - start)) s)"
  else
    echo "FAIL  $name ($((SECONDS - start)) s): see $log"; failures=$((failures + 1))
  fi
}
latentcli() { "$PYTHON" -m latentcli "$@"; }
QUIET=(trainer.progress=false trainer.tensorboard=false "trainer.device=$DEVICE")

"$PYTHON" -c "import torch, sys; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.cuda.is_available() and torch.cuda.get_device_name())" | tee -a "$log"
echo "output: $OUT"

# 1. every model through `latentcli train` (checkpoints, sample grids) on the device: one Hydra sweep of
#    every model in the last precision (fp16 with its grad scaler on a GPU), the regressor on the gan's
#    generator, and one compiled run; the throughput runs below train every model in every precision
step "train every model on digits, precision=${PRECISIONS[-1]}" latentcli train -m "model=$models_csv" dataset=digits \
  "trainer.precision=${PRECISIONS[-1]}" "trainer.max_steps=$STEPS" trainer.sample_every=100 "${QUIET[@]}" \
  "hydra.sweep.dir=$OUT/train/digits" 'hydra.sweep.subdir=${model.name}'
gan="$OUT/train/digits/gan/checkpoints/last.ckpt"
bigan="$OUT/train/digits/bigan/checkpoints/last.ckpt"
step "train regressor on the digits gan" latentcli train model=regressor "model.generator_ckpt=$gan" dataset=digits \
  "trainer.max_steps=$STEPS" "${QUIET[@]}" "hydra.run.dir=$OUT/train/digits_regressor"
if (( ! cpu_only )); then
  step "train bigan grid25 compiled (reduce-overhead: CUDA graphs), bf16" latentcli train model=bigan dataset=grid25 \
    trainer.compile=true trainer.compile_mode=reduce-overhead trainer.precision=bf16 "trainer.max_steps=$STEPS" \
    "${QUIET[@]}" "hydra.run.dir=$OUT/train/grid25_bigan_compiled"
fi

# 2. invert and evaluate on the device
step "invert bigan: hybrid and optimize" latentcli invert -m "ckpt=$bigan" inference=hybrid,optimize \
  inference.steps=50 "device=$DEVICE" "hydra.sweep.dir=$OUT/invert" 'hydra.sweep.subdir=${inference.method}'
step "evaluate bigan: recon, latent, probe" latentcli evaluate "ckpt=$bigan" "metrics=[recon,latent,probe]" n=200 \
  "device=$DEVICE" "hydra.run.dir=$OUT/evaluate/bigan"

# 3. exact resume in deterministic mode: STEPS/2 steps, stop, resume to STEPS == STEPS unbroken
export CUBLAS_WORKSPACE_CONFIG=:4096:8
precision="${PRECISIONS[1]:-32}"
run="$OUT/resume/bigan_digits_$precision"
common=(model=bigan dataset=digits trainer.deterministic=true "trainer.precision=$precision" trainer.ema_decay=0.99 "${QUIET[@]}")
step "resume (deterministic, $precision): unbroken run" latentcli train "${common[@]}" "trainer.max_steps=$STEPS" "hydra.run.dir=$run/unbroken"
step "resume (deterministic, $precision): first half" latentcli train "${common[@]}" "trainer.max_steps=$((STEPS / 2))" "hydra.run.dir=$run/stopped"
step "resume (deterministic, $precision): second half" latentcli train resume=true "trainer.max_steps=$STEPS" "hydra.run.dir=$run/stopped"
step "resume (deterministic, $precision): bitwise equal" "$PYTHON" "$ROOT/benchmarks/gpu_check.py" same \
  "$run/unbroken/checkpoints/last.ckpt" "$run/stopped/checkpoints/last.ckpt"
grep -E "^(bitwise|DIFFERENT)" "$log" || true

# 4. throughput: steps/s per model x precision on the device, and the same runs on the CPU for a subset
runs=(); cpu_runs=()
for dataset in "${DATASETS[@]}"; do
  for model in "${MODELS[@]}"; do
    for precision in "${PRECISIONS[@]}"; do runs+=("$dataset:$model:$precision"); done
  done
done
cpu_runs=(grid25:gan:32 grid25:bigan:32 digits:gan:32 digits:bigan:32 digits:vae:32)
if (( ! cpu_only )); then
  runs+=(grid25:gan:32:compile-reduce-overhead grid25:bigan:32:compile-reduce-overhead)
  [[ " ${DATASETS[*]} " == *" fashion_mnist "* ]] && runs+=(fashion_mnist:bigan:bf16:channels_last)
fi
warmup=$(( STEPS >= 100 ? 20 : 2 ))
(( cpu_only )) && cpu_runs=()
step "throughput on $DEVICE${cpu_runs:+ and on the cpu (subset)}" "$PYTHON" "$ROOT/benchmarks/gpu_check.py" throughput \
  --device "$DEVICE" --steps "$STEPS" --warmup "$warmup" --runs "${runs[@]}" --cpu-runs "${cpu_runs[@]}" \
  --out "$OUT/throughput.md"
# 5. fused sweeps (hydra/launcher=fused): 10 runs one after another against the same 10 fused, per preset, and
#    the projected time of PacGAN grid25's 50 runs at 400,000 steps (issue 21's goal: <= 15 minutes on an H100)
fused_steps=$(( cpu_only ? 4 : 300 ))
step "fused sweeps: 10 runs one after another against fused" "$PYTHON" "$ROOT/benchmarks/fused_throughput.py" \
  --device "$DEVICE" --gpu-table --steps "$fused_steps" --setups alice_toy,veegan_grid25,pacgan_grid25,gan_grid25_small
sed -n '/^[0-9]* runs per set-up/,$p' "$log" | grep -E '^(\||projected|[0-9]+ runs)' > "$OUT/fused.md" || true
echo; cat "$OUT/throughput.md" 2>/dev/null || true
echo; cat "$OUT/fused.md" 2>/dev/null || true
echo; echo "$failures failure(s); log: $log; tables: $OUT/throughput.md, $OUT/fused.md"
exit $(( failures > 0 ))

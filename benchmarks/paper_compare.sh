#!/usr/bin/env bash
# A paper preset of latentcli beside its bare-PyTorch reference (benchmarks/reference/), same budget and seeds:
#   benchmarks/paper_compare.sh PRESET OUTDIR [STEPS] [SEEDS] [DEVICE] [PARALLEL]
#   PRESET: pacgan_grid25 (GAN, PacGAN2-4, and ALI on latentcli's side only: the reference has no ALI) |
#   alice_toy (ALI and ALICE) | veegan_grid25, veegan_ring8 (GAN, ALI and VEEGAN; the reference also runs the GAN
#   row's other generator-loss readings, arms gan_minimax and gan_logit)
#   STEPS: training steps of every run ("full": the paper's budget); SEEDS: seeds 0..SEEDS-1 (default 5);
#   DEVICE: cpu | cuda (default cpu); PARALLEL: runs at a time (default 2, one thread each).
# Then prints OUTDIR/table.md (benchmarks/paper_table.py): mean +- s.e. of the paper's protocol per arm and side.
# Runs from the source tree; PYTHON=... picks the interpreter (default python3); SIDES=ours|reference|both
# (default both) runs one side only; ARMS="gan" (default: every arm) some arms only; FIRST_SEED=K (default 0)
# runs seeds K..K+SEEDS-1, e.g. to add seeds to a finished comparison in the same OUTDIR.
set -euo pipefail
if [[ $# -lt 2 ]]; then sed -n 2,9p "$0" >&2; exit 2; fi
preset=$1; mkdir -p "$2"; out="$(cd "$2" && pwd)"
steps=${3:-full}; seeds=${4:-5}; device=${5:-cpu}; parallel=${6:-2}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1

budget_ours=""; budget_ref=""
if [[ $steps != full ]]; then budget_ours="trainer.max_steps=$steps"; budget_ref="--steps $steps"; fi
jobs="$out/jobs.txt"; : > "$jobs"
sides=${SIDES:-both}; arms=" ${ARMS:-} "; first=${FIRST_SEED:-0}
wanted() { [[ $arms == "  " || $arms == *" $1 "* ]]; }
ours() {  # ours ARM SEED TRAIN_OVERRIDES...: train, then score with the preset's protocol
  [[ $sides == reference ]] || ! wanted "$1" && return
  local run="$out/ours/$1-$2"; shift 2
  echo "$PY -m latentcli train $* $budget_ours trainer.device=$device trainer.progress=false hydra.run.dir=$run > $run.log 2>&1 && $PY -m latentcli evaluate ckpt=$run/checkpoints/last.ckpt device=$device hydra.run.dir=$run/eval >> $run.log 2>&1" >> "$jobs"
}
ref() {  # ref ARM SCRIPT ARGS...
  [[ $sides == ours ]] || ! wanted "$1" && return
  shift
  echo "$PY $ROOT/benchmarks/reference/$1 $budget_ref --device $device --threads 1 --out $out/reference.jsonl ${*:2} > /dev/null 2>> $out/reference.err" >> "$jobs"
}
mkdir -p "$out/ours"
for ((seed = first; seed < first + seeds; seed++)); do
  case $preset in
    pacgan_grid25)
      ours gan $seed experiment=paper/pacgan_grid25 +variant=gan seed=$seed
      ours ali $seed experiment=paper/pacgan_grid25 +variant=ali seed=$seed
      ref gan pacgan_toy.py --dataset grid25 --pack 1 --seed $seed
      for pack in 2 3 4; do
        ours pacgan$pack $seed experiment=paper/pacgan_grid25 +variant=pacgan$pack seed=$seed
        ref pacgan$pack pacgan_toy.py --dataset grid25 --pack $pack --seed $seed
      done ;;
    alice_toy)
      ours ali $seed experiment=paper/alice_toy model=ali seed=$seed
      ours alice $seed experiment=paper/alice_toy model=alice seed=$seed
      ref ali alice_toy.py --lam 0 --adam-clock separate --seed $seed  # latentcli: one optimiser per player
      ref alice alice_toy.py --lam 1 --adam-clock separate --seed $seed ;;
    veegan_grid25 | veegan_ring8)
      data=${preset#veegan_}
      ours gan $seed experiment=paper/$preset model=gan seed=$seed
      ours ali $seed experiment=paper/$preset model=ali seed=$seed
      ours veegan $seed experiment=paper/$preset model=veegan seed=$seed
      ref gan veegan_toy.py --dataset $data --model gan --generator-loss ns --seed $seed
      ref gan_minimax veegan_toy.py --dataset $data --model gan --generator-loss minimax --seed $seed
      ref gan_logit veegan_toy.py --dataset $data --model gan --generator-loss logit --seed $seed
      ref ali veegan_toy.py --dataset $data --model ali --seed $seed
      ref veegan veegan_toy.py --dataset $data --seed $seed ;;
    *) echo "unknown preset $preset: pacgan_grid25, alice_toy, veegan_grid25 or veegan_ring8" >&2; exit 2 ;;
  esac
done
echo "$(wc -l < "$jobs") runs, $parallel at a time, on $device; budget: $steps steps; logs in $out"
start=$SECONDS
xargs -d "\n" -n 1 -P "$parallel" bash -c 'eval "$1"' _ < "$jobs" || echo "some runs failed: see $out/ours/*.log and $out/reference.err" >&2
echo "wall time: $((SECONDS - start)) s"
"$PY" "$ROOT/benchmarks/paper_table.py" "$out" | tee "$out/table.md"

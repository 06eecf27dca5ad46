#!/bin/sh
# `make fidelity` (issue #21): SpineNet-49 trained by spinebench and by the reference implementation
# (bench/tensorflow/train_reference.py: tf-models-official's own pieces) at one profile of
# ablations/fidelity.yaml, SEEDS seeds each (default: the profile's), then results/fidelity.md and .svg.
# Usage: bench/fidelity.sh [PROFILE [SEEDS [JOBS]]]. Needs `make build` and `make .venv-tf/ok`.
#  1. the same-weights first step: `spinebench first-step` writes our initial weights, the first batch and our
#     figures; bench/tensorflow/fidelity_step.py repeats the step in the reference on those weights;
#  2. the runs, JOBS at once (one thread each), the reference's first (they take longest); a run already
#     recorded is skipped, so an interrupted `make fidelity` picks up where it stopped;
#  3. the report (bench/tensorflow/fidelity_report.py).
set -eu
PROFILE=${1:-fidelity}
SEEDS=${2:-}
JOBS=${3:-2}
BIN=${BIN:-.build/release/spinebench}
PY=${PY:-.venv-tf/bin/python}
FILE=ablations/fidelity.yaml
# Seeds: the profile's unless given.
[ -n "$SEEDS" ] || SEEDS=$("$PY" -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['profiles'][sys.argv[2]]['seeds'])" "$FILE" "$PROFILE")
OUT=results/fidelity
RUNS=runs
mkdir -p "$OUT" "$RUNS/fidelity-step"
if [ "$PROFILE" = fidelity ]; then REPORT=results/fidelity.md; SVG=results/fidelity.svg
else REPORT=$OUT/$PROFILE.md; SVG=$OUT/$PROFILE.svg; fi
STEP_JSON=$OUT/first-step-$PROFILE.json
STEP64_JSON=$OUT/first-step-$PROFILE-float64.json

# Made again on every call (two minutes): it must describe the code that trains.
step=$RUNS/fidelity-step/$PROFILE-seed0.h5
"$BIN" first-step spinenet-49 --ablation "$FILE" --profile "$PROFILE" --seed 0 --out "$step" --threads "$JOBS"
"$PY" bench/tensorflow/fidelity_step.py "$step" --out "$STEP_JSON" --threads "$JOBS"
# The same in double precision: how much of what remains is float32 rounding (on either side).
"$PY" bench/tensorflow/fidelity_step.py "$step" --out "$STEP64_JSON" --threads "$JOBS" --float64
DATASET=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['dataset'])" "$STEP_JSON")

jobs=$(mktemp)
trap 'rm -f "$jobs"' EXIT
s=0
while [ "$s" -lt "$SEEDS" ]; do
  [ -f "$OUT/reference/$PROFILE/seed-$s.json" ] || echo "reference $s" >> "$jobs"
  s=$((s + 1))
done
s=0
while [ "$s" -lt "$SEEDS" ]; do echo "ours $s" >> "$jobs"; s=$((s + 1)); done
export BIN PY FILE PROFILE OUT RUNS DATASET
# A run that fails does not stop the others, nor the report of those that finished; the exit status says so.
status=0
xargs -P "$JOBS" -L 1 sh -c '
  if [ "$0" = reference ]; then
    exec "$PY" bench/tensorflow/train_reference.py --ablation "$FILE" --profile "$PROFILE" --seed "$1" \
      --dataset "$DATASET" --out-dir "$RUNS/fidelity-reference/$PROFILE/seed-$1" \
      --record "$OUT/reference/$PROFILE/seed-$1.json" --threads 1
  else
    exec "$BIN" train spinenet-49 --ablation "$FILE" --profile "$PROFILE" --seed "$1" --threads 1 \
      --results "$OUT" --runs "$RUNS"
  fi' < "$jobs" || status=$?

"$PY" bench/tensorflow/fidelity_report.py --profile "$PROFILE" --results "$OUT" --runs "$RUNS" \
  --reference "$OUT/reference" --step "$STEP_JSON" --step64 "$STEP64_JSON" --binary "$BIN" --out "$REPORT" --svg "$SVG"
exit "$status"

#!/bin/sh
# `make fidelity` (issue #21): SpineNet-49 trained by spinebench and by the reference implementation
# (bench/tensorflow/train_reference.py: tf-models-official's own pieces) at one profile of
# ablations/fidelity.yaml, SEEDS seeds each (default: the profile's), then results/fidelity.md and .svg.
# Usage: bench/fidelity.sh [PROFILE [SEEDS [JOBS]]]. Needs `make build` and `make .venv-tf/ok`.
#  1. the same weights: `spinebench first-step` writes our initial weights, the first batch, our figures and
#     our first TRAJECTORY steps (default 400); bench/tensorflow/fidelity_step.py repeats the first step in the
#     reference on those weights, fidelity_trajectory.py the first TRAJECTORY steps (both also in float64: how
#     much of a difference float32 rounding alone makes);
#  2. the runs, JOBS at once (one thread each), the reference's first (they take longest), three per seed:
#     spinebench; the reference from its own initial weights; the reference from ours of the same seed
#     (`spinebench first-step --seed k` writes them), which pairs it with our run of that seed (same weights,
#     same data order); and our seed 0 once more with --no-fusion, the same run but for float rounding: how far
#     rounding alone moves a run's end. A run already recorded is skipped, so an interrupted `make fidelity`
#     picks up where it stopped;
#  3. the first step once more at a trained state (our seed 0's last checkpoint), where the losses and layers
#     work in the regimes training reaches;
#  4. the report (bench/tensorflow/fidelity_report.py).
set -eu
PROFILE=${1:-fidelity}
SEEDS=${2:-}
JOBS=${3:-2}
TRAJECTORY=${TRAJECTORY:-400}
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

# Made again on every call (about 10 minutes): it must describe the code that trains.
step=$RUNS/fidelity-step/$PROFILE-seed0.h5
"$BIN" first-step spinenet-49 --ablation "$FILE" --profile "$PROFILE" --seed 0 --out "$step" --threads "$JOBS" \
  --steps "$TRAJECTORY"
"$PY" bench/tensorflow/fidelity_step.py "$step" --out "$STEP_JSON" --threads "$JOBS"
# The same in double precision: how much of what remains is float32 rounding (on either side).
"$PY" bench/tensorflow/fidelity_step.py "$step" --out "$STEP64_JSON" --threads "$JOBS" --float64
"$PY" bench/tensorflow/fidelity_trajectory.py "$step" --out "$OUT/trajectory-$PROFILE.json" --threads 1 &
float32=$!
"$PY" bench/tensorflow/fidelity_trajectory.py "$step" --out "$OUT/trajectory-$PROFILE-float64.json" --threads 1 --float64
wait "$float32"
DATASET=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['dataset'])" "$STEP_JSON")

jobs=$(mktemp)
trap 'rm -f "$jobs"' EXIT
s=0
while [ "$s" -lt "$SEEDS" ]; do
  [ -f "$OUT/reference/$PROFILE/seed-$s.json" ] || echo "reference $s" >> "$jobs"
  if [ ! -f "$OUT/reference-our-init/$PROFILE/seed-$s.json" ]; then
    [ "$s" = 0 ] || "$BIN" first-step spinenet-49 --ablation "$FILE" --profile "$PROFILE" --seed "$s" \
      --out "$RUNS/fidelity-step/$PROFILE-seed$s.h5" --threads 1
    echo "paired $s" >> "$jobs"
  fi
  s=$((s + 1))
done
s=0
while [ "$s" -lt "$SEEDS" ]; do echo "ours $s" >> "$jobs"; s=$((s + 1)); done
echo "twin 0" >> "$jobs"
export BIN PY FILE PROFILE OUT RUNS DATASET
# A run that fails does not stop the others, nor the report of those that finished; the exit status says so.
status=0
xargs -P "$JOBS" -L 1 sh -c '
  if [ "$0" = reference ]; then
    exec "$PY" bench/tensorflow/train_reference.py --ablation "$FILE" --profile "$PROFILE" --seed "$1" \
      --dataset "$DATASET" --out-dir "$RUNS/fidelity-reference/$PROFILE/seed-$1" \
      --record "$OUT/reference/$PROFILE/seed-$1.json" --threads 1
  elif [ "$0" = paired ]; then
    exec "$PY" bench/tensorflow/train_reference.py --ablation "$FILE" --profile "$PROFILE" --seed "$1" \
      --dataset "$DATASET" --out-dir "$RUNS/fidelity-reference-our-init/$PROFILE/seed-$1" \
      --record "$OUT/reference-our-init/$PROFILE/seed-$1.json" --threads 1 \
      --init "$RUNS/fidelity-step/$PROFILE-seed$1.h5"
  elif [ "$0" = twin ]; then
    exec "$BIN" train spinenet-49 --ablation "$FILE" --profile "$PROFILE" --seed "$1" --threads 1 --no-fusion \
      --results "$OUT/no-fusion" --runs "$RUNS/no-fusion"
  else
    exec "$BIN" train spinenet-49 --ablation "$FILE" --profile "$PROFILE" --seed "$1" --threads 1 \
      --results "$OUT" --runs "$RUNS"
  fi' < "$jobs" || status=$?

trained=$RUNS/fidelity/$PROFILE/spinenet-49/seed-0
if [ -d "$trained/checkpoint" ]; then
  "$BIN" first-step spinenet-49 --ablation "$FILE" --profile "$PROFILE" --seed 0 --checkpoint "$trained" \
    --out "$RUNS/fidelity-step/$PROFILE-trained.h5" --threads "$JOBS"
  for precision in "" --float64; do
    "$PY" bench/tensorflow/fidelity_step.py "$RUNS/fidelity-step/$PROFILE-trained.h5" --threads "$JOBS" $precision \
      --out "$OUT/trained-step-$PROFILE${precision:+-float64}.json"
  done
fi

"$PY" bench/tensorflow/fidelity_report.py --profile "$PROFILE" --results "$OUT" --runs "$RUNS" \
  --reference "$OUT/reference" --paired "$OUT/reference-our-init" --diagnostic "$OUT/diagnostic" --twin "$OUT/no-fusion" --step "$STEP_JSON" --step64 "$STEP64_JSON" \
  --trajectory "$OUT/trajectory-$PROFILE.json" --trajectory64 "$OUT/trajectory-$PROFILE-float64.json" \
  --trained "$OUT/trained-step-$PROFILE.json" --trained64 "$OUT/trained-step-$PROFILE-float64.json" --binary "$BIN" --out "$REPORT" --svg "$SVG"
exit "$status"

#!/bin/sh
# Training throughput of spinebench and of TensorFlow (tf-models-official's SpineNet) on this machine,
# measured alternately in one run so both see the same load. Usage: bench/side-by-side.sh [ROUNDS]
# Needs `make build` and the virtualenv that `make bench-tf` creates.
set -eu
ROUNDS=${1:-3}
BIN=${BIN:-.build/release/spinebench}
PY=${PY:-.venv-tf/bin/python}
ARGS="--scale 0.25 --endpoints 64 --input 128 --batch 16"
rate() { sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p'; }
for head in none retinanet; do
  for r in $(seq "$ROUNDS"); do
    out=$($BIN bench train --model spinenet-49 $ARGS --head $head --threads 2); echo "$out"
    ours=$(echo "$out" | rate)
    out=$($PY bench/tensorflow/reference.py $ARGS --head $head --threads 2 2>/dev/null); echo "$out"
    theirs=$(echo "$out" | rate)
    echo "head $head round $r: spinebench $ours img/s, tensorflow $theirs img/s, ratio $(awk "BEGIN{printf \"%.2f\", $ours / $theirs}")"
  done
done

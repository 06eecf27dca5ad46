#!/bin/sh
# One shard of an ablation per task of a Slurm job array. Submit from the checkout, after `make build`:
#   sbatch --array=0-8 scripts/slurm-ablate.sh ablations/permutation.yaml paper 9
# Task i trains shard i/9 (every 9th run from the i-th), one thread per CPU of the task. Options after
# the third argument go to `spinebench ablate` (e.g. --seeds 5); SPINEBENCH names another binary.
#SBATCH --job-name=spinebench
#SBATCH --cpus-per-task=1
set -eu
if [ $# -lt 3 ] || [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
    echo "usage: sbatch --array=0-(N-1) scripts/slurm-ablate.sh ABLATION PROFILE N [ablate options]" >&2
    exit 64
fi
file=$1 profile=$2 shards=$3
shift 3
# A dataset is written once (to a temporary file, then renamed) and only read after that: HDF5's file
# locks add nothing, and they fail on file systems without flock (some NFS and Lustre mounts).
export HDF5_USE_FILE_LOCKING="${HDF5_USE_FILE_LOCKING:-FALSE}"
exec "${SPINEBENCH:-.build/release/spinebench}" ablate "$file" --profile "$profile" \
    --shard "$SLURM_ARRAY_TASK_ID/$shards" --threads "${SLURM_CPUS_PER_TASK:-1}" "$@"

#!/bin/sh
# `make slurm-test`: the README's Slurm job script on a real one-node Slurm cluster, started here and stopped
# on exit. Usage: scripts/slurm-test.sh [BIN] (default .build/release/spinebench, which the script's jobs run).
#
# 1. The README's code block must be scripts/slurm-ablate.sh, byte for byte.
# 2. Installs slurmctld, slurmd, slurm-client, munge and jq when missing (needs root, as slurmd does).
# 3. munged, slurmctld and slurmd run in the foreground of background jobs, everything (key, socket,
#    slurm.conf, spool, state, logs) under .build-slurm/; the EXIT trap cancels the jobs and stops the
#    three daemons by pid, also when a step fails.
# 4. The smoke permutation ablation as a job array (--array=0-3, one CPU a task): its records and tables
#    must equal those of a local `spinebench ablate --threads 1`, apart from each record's `measured`.
# 5. A longer profile (smoke's recipe, 1600 images, 3 epochs; added to a copy of the ablation file):
#    one task is cancelled after its first checkpoint and resubmitted with `sbatch --array=K`; it must
#    resume and end with the local run's record (apart from `measured` and `training.resumedFromEpoch`).
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/spinebench}
ROOT=$(pwd)
S=$ROOT/.build-slurm
LOCAL=$S/local
ARRAY=$S/array
JOB_SCRIPT=scripts/slurm-ablate.sh
STARTED=$(date +%s)
PIDS=""      # daemons this script started, newest first
JOBS=""      # jobs it submitted

say() { echo "slurm-test: $*"; }
fail() { echo "slurm-test: FAILED: $*" >&2; exit 1; }

# --- 1. README ---------------------------------------------------------------------------------------
# The block is the first ```sh fence after the line `<!-- scripts/slurm-ablate.sh ... -->`.
awk '/^<!-- scripts\/slurm-ablate\.sh/ { found = 1; next }
     found && !inside && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' README.md > "${TMPDIR:-/tmp}/slurm-test-readme.$$"
if ! cmp -s "${TMPDIR:-/tmp}/slurm-test-readme.$$" "$JOB_SCRIPT"; then
    diff -u "$JOB_SCRIPT" "${TMPDIR:-/tmp}/slurm-test-readme.$$" >&2 || true
    rm -f "${TMPDIR:-/tmp}/slurm-test-readme.$$"
    fail "README.md's Slurm block differs from $JOB_SCRIPT (diff above: + is the README)"
fi
rm -f "${TMPDIR:-/tmp}/slurm-test-readme.$$"
say "README's job script is $JOB_SCRIPT"

# --- 2. packages -------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || fail "needs root: slurmd starts jobs and the packages may need installing"
[ -x "$BIN" ] || fail "$BIN not found (make build)"
missing=""
for p in slurmctld slurmd slurm-client munge jq; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    # Only what one node needs, not the slurm-wlm metapackage (39 packages with ROCm, InfluxDB, -dev...).
    say "installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# --- 3. the cluster ----------------------------------------------------------------------------------
# Stops what a killed earlier run (no EXIT trap then) left: only pids it recorded, still running the same daemon.
if [ -f "$S/pids" ]; then
    while read -r name pid; do
        if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then say "stopping $name $pid left by an earlier run"; kill "$pid"; fi
    done < "$S/pids"
    sleep 2
fi

stop_cluster() {
    if [ -n "$JOBS" ] && [ -n "$PIDS" ]; then
        # Cancel first, while slurmctld and slurmd still run, so no slurmstepd or training outlives them.
        scancel $JOBS 2>/dev/null || true
        i=0
        while [ $i -lt 30 ] && [ -n "$(squeue -h 2>/dev/null)" ]; do sleep 1; i=$((i + 1)); done
    fi
    for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
    for pid in $PIDS; do
        i=0
        while [ $i -lt 20 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.5; i=$((i + 1)); done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    done
    PIDS=""
    JOBS=""
}
on_exit() {
    rc=$?
    trap - EXIT
    if [ -n "$PIDS" ]; then
        [ $rc = 0 ] || say "exit $rc: cancelling the jobs and stopping the daemons (logs in $S/log)"
        stop_cluster
    fi
    exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# start NAME COMMAND...: runs the daemon in the background, its output in log/NAME.out, and records its pid.
start() {
    name=$1
    shift
    "$@" > "$S/log/$name.out" 2>&1 &
    PIDS="$! $PIDS"
    echo "$name $!" >> "$S/pids"
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every half second.
wait_until() {
    limit=$1 what=$2
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "no $what after ${limit}s (logs in $S/log)"
        sleep 0.5
    done
}

rm -rf "$S"
mkdir -p "$S/munge" "$S/etc" "$S/state" "$S/spool" "$S/log" "$LOCAL" "$ARRAY/logs"
chmod 755 "$S/munge"                       # munged: the socket's folder must be searchable by all
mungekey --create --keyfile="$S/munge/munge.key"
host=$(hostname -s)
cpus=$(nproc)
cat > "$S/etc/slurm.conf" <<EOF
# One node, written by scripts/slurm-test.sh. No cgroups (they fail in containers), no accounting
# database: job states go to jobcomp.txt.
ClusterName=spinebench-test
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/munge.socket
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/state/slurmctld.pid
SlurmdPidFile=$S/spool/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.txt
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$S/etc/slurm.conf"
# The jobs run `.build/release/spinebench` unless told otherwise (SPINEBENCH in the job script).
[ "$BIN" = .build/release/spinebench ] || export SPINEBENCH="$BIN"

start munged munged --foreground --force --key-file="$S/munge/munge.key" --socket="$S/munge/munge.socket" \
    --pid-file="$S/munge/munged.pid" --log-file="$S/log/munged.log" --seed-file="$S/munge/munged.seed"
wait_until 20 "munge socket" test -S "$S/munge/munge.socket"
start slurmctld slurmctld -D -f "$SLURM_CONF"
start slurmd slurmd -D -f "$SLURM_CONF"
node_idle() { [ "$(sinfo -h -N -o %t 2>/dev/null)" = idle ]; }
wait_until 60 "idle node in sinfo" node_idle
say "cluster up: slurmd, slurmctld, munged (pids $(echo $PIDS)), node $host with $cpus CPUs idle"

# --- helpers for jobs --------------------------------------------------------------------------------
# submit ARRAY ARGS...: the job script as an array, one CPU a task, logs under array/logs; prints the job id.
submit() {
    range=$1
    shift
    say "sbatch --array=$range --cpus-per-task=1 $JOB_SCRIPT $*" >&2
    out=$(sbatch --parsable --array="$range" --cpus-per-task=1 --output="$ARRAY/logs/%A_%a.out" "$JOB_SCRIPT" "$@" \
        --results "$ARRAY/results" --runs "$ARRAY/runs" --data "$ARRAY/data")
    echo "${out%%;*}"
}
queue_empty() { [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; }
# task_state JOB TASK: "JobState ExitCode" of a finished array task, from the job completion log.
task_state() {
    sed -n "s/.*JobState=\([A-Z_]*\) .*ArrayJobId=$1 ArrayTaskId=$2 .* ExitCode=\([0-9:]*\).*/\1 \2/p" \
        "$S/log/jobcomp.txt" 2>/dev/null | tail -n 1
}
task_logged() { [ -n "$(task_state "$1" "$2")" ]; }
expect_done() {    # JOB TASK...: every task ran to the end with exit 0
    job=$1
    shift
    for t in "$@"; do
        wait_until 30 "completion entry for ${job}_$t" task_logged "$job" "$t"
        state=$(task_state "$job" "$t")
        [ "$state" = "COMPLETED 0:0" ] || { cat "$ARRAY/logs/${job}_$t.out" >&2; fail "task ${job}_$t ended $state"; }
        say "  ${job}_$t: $state, $(tail -n 1 "$ARRAY/logs/${job}_$t.out")"
    done
}

# --- 4. smoke ablation: local reference, then the array ------------------------------------------------
local_ablate() {    # the reference: the same binary and commit, one thread, one process
    log=$1
    shift
    "$BIN" ablate "$@" --threads 1 --results "$LOCAL/results" --runs "$LOCAL/runs" --data "$LOCAL/data" > "$LOCAL/$log" 2>&1 \
        || { cat "$LOCAL/$log" >&2; fail "local $BIN ablate $*"; }
}
say "local reference: $BIN ablate ablations/permutation.yaml --profile smoke --threads 1"
local_ablate smoke.log ablations/permutation.yaml --profile smoke

job=$(submit 0-3 ablations/permutation.yaml smoke 4)
JOBS="$JOBS $job"
wait_until 1200 "end of job $job" queue_empty "$job"
expect_done "$job" 0 1 2 3

# --- 5. cancel one task mid-run, resubmit it ----------------------------------------------------------
# A copy of the ablation file with one more profile: smoke's recipe, long enough to cancel between
# checkpoints (one per epoch). The records land beside the smoke ones, under profile `resume`.
RESUME=$S/permutation-resume.yaml
sed 's/^  smoke:$/  smoke: \&smoke/' ablations/permutation.yaml > "$RESUME"
cat >> "$RESUME" <<'EOF'
  resume:   # added by scripts/slurm-test.sh
    <<: *smoke
    dataset: { size: 64, train: 1600, val: 64, max_objects: 3, min_side: 11, max_side: 48 }
    epochs: 3
EOF
grep -q '^  smoke: &smoke$' "$RESUME" || fail "ablations/permutation.yaml has no '  smoke:' profile line to extend"
K=1
say "local reference: $BIN ablate $RESUME --profile resume --shard 0/9 and --shard $K/9 --threads 1"
local_ablate resume-0.log "$RESUME" --profile resume --shard 0/9
local_ablate resume-$K.log "$RESUME" --profile resume --shard $K/9
model=$(sed -n 's|.* -> .*/records/permutation/resume/\([^/]*\)/seed-0\.json$|\1|p' "$LOCAL/resume-$K.log")
[ -n "$model" ] || fail "cannot tell the model of shard $K/9 from $LOCAL/resume-$K.log"

job=$(submit 0-1 "$RESUME" resume 9)
JOBS="$JOBS $job"
meta=$ARRAY/runs/permutation/resume/$model/seed-0/checkpoint/meta.json
checkpointed() {
    [ -f "$meta" ] && return 0
    queue_empty "${job}_$K" && fail "task ${job}_$K ended before its first checkpoint ($meta)"
    return 1
}
wait_until 900 "first checkpoint of ${job}_$K" checkpointed
state=$(squeue -h -j "${job}_$K" -o %T)
[ "$state" = RUNNING ] || fail "task ${job}_$K is $state, not RUNNING, at its first checkpoint"
scancel "${job}_$K"
say "scancel ${job}_$K: $model was training, $(jq -r .state.epochsDone "$meta" 2>/dev/null || echo '?') of 3 epochs checkpointed"
wait_until 120 "end of ${job}_$K" queue_empty "${job}_$K"
wait_until 30 "completion entry for ${job}_$K" task_logged "$job" "$K"
cancelled=$(task_state "$job" "$K")
case $cancelled in CANCELLED*) ;; *) fail "task ${job}_$K ended $cancelled, not CANCELLED (it finished before scancel?)";; esac
done_epochs=$(jq -r .state.epochsDone "$meta")
[ "$done_epochs" -lt 3 ] || fail "task ${job}_$K had trained all 3 epochs when cancelled"
[ ! -f "$ARRAY/results/records/permutation/resume/$model/seed-0.json" ] || fail "the cancelled task wrote a record"
say "  ${job}_$K: $cancelled with $done_epochs of 3 epochs checkpointed, no record"
wait_until 900 "end of job $job" queue_empty "$job"
expect_done "$job" 0

job2=$(submit "$K" "$RESUME" resume 9)
JOBS="$JOBS $job2"
wait_until 900 "end of job $job2" queue_empty "$job2"
expect_done "$job2" "$K"
resumed=$(grep "resuming from the checkpoint" "$ARRAY/logs/${job2}_$K.out") || fail "${job2}_$K did not resume from the checkpoint"
say "  ${job2}_$K: $resumed"

# --- 6. records and tables against the local run's -------------------------------------------------------
resumed_record=records/permutation/resume/$model/seed-0.json
[ "$(jq .training.resumedFromEpoch "$ARRAY/results/$resumed_record")" = "$done_epochs" ] \
    || fail "$resumed_record: training.resumedFromEpoch is not $done_epochs"
(cd "$LOCAL/results" && find records -name '*.json' | sort) > "$S/local-records.txt"
(cd "$ARRAY/results" && find records -name '*.json' | sort) > "$S/array-records.txt"
diff -u "$S/local-records.txt" "$S/array-records.txt" >&2 || fail "the array wrote other records than the local run (+: array only)"
n=0
while read -r rec; do
    # measured: wall clock; resumedFromEpoch: how the run got there, which is the point of the resubmission.
    filter='del(.measured)'
    [ "$rec" = "$resumed_record" ] && filter='del(.measured) | del(.training.resumedFromEpoch)'
    jq -S "$filter" "$LOCAL/results/$rec" > "$S/local.json"
    jq -S "$filter" "$ARRAY/results/$rec" > "$S/array.json"
    diff -u "$S/local.json" "$S/array.json" >&2 || fail "$rec differs from the local run's (+: array)"
    n=$((n + 1))
done < "$S/local-records.txt"
say "records: $n of $n equal to the local run's apart from measured (and resumedFromEpoch of the resubmitted run)"
"$BIN" tables --results "$LOCAL/results" > "$S/log/tables-local.out"
"$BIN" tables --results "$ARRAY/results" > "$S/log/tables-array.out"
diff -r -x records "$LOCAL/results" "$ARRAY/results" >&2 || fail "spinebench tables gives other tables for the array's records"
say "tables: identical ($(cd "$ARRAY/results" && find . -path ./records -prune -o -type f -print | sed 's|^\./||' | sort | tr '\n' ' '))"

# --- 7. stop everything, check nothing is left ---------------------------------------------------------
started=$PIDS
stop_cluster
for pid in $started; do
    ! kill -0 "$pid" 2>/dev/null || fail "process $pid of the test cluster still runs"
done
say "cluster stopped: none of slurmd, slurmctld, munged (pids $(echo $started)) is running"
say "passed in $(($(date +%s) - STARTED)) s"

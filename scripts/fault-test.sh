#!/bin/sh
# `make fault-test` (also the last step of `make test`): the destructive probes. `data build`,
# `ablate` and `search` are killed with SIGKILL at random points and run out of disk; nothing already written
# may be lost, no temporary file may stay behind, and a rerun must complete with the records of an
# uninterrupted run. Usage: scripts/fault-test.sh [BIN] (default .build/release/spinebench).
#
# Everything happens in .build/fault/ (removed first), one thread at a time: about 1.5 minutes on 2 cores.
# The full-disk probes mount small tmpfs folders there (unmounted on exit), so they need root; without it
# they print "skipped". jq is installed when missing (root), as `make slurm-test` does.
#
# 1. data build, full disk: a good file on a 3 MB tmpfs, then `--force` a 40 MB one over it: exit 1 naming
#    the full disk, the old file byte for byte (md5), no `*.tmp-*` left.
# 2. data build, kill -9: three `--force` builds killed after a random delay (below an uninterrupted build's
#    time), the first where no file is, the others over an old file (another seed): after each the file is
#    absent (first only), the old one or the new one, whole (`data inspect` checks its checksum). A temporary
#    of a dead pid of this host is put beside it (what a kill during the write leaves); the rerun completes
#    with the uninterrupted build's checksum and sweeps it, keeping a live pid's and another host's. Without
#    --force the build refuses (exit 64) and leaves the file alone.
# 3. ablate, kill -9: a copy of ablations/connections.yaml with a `fault` profile (smoke's recipe, 800 images,
#    3 epochs); shard 0/4 (one run) uninterrupted is the reference. The same run elsewhere is killed at a
#    random point after its first per-epoch checkpoint, then rerun: it resumes, and its record equals the
#    reference's apart from `measured` and `training.resumedFromEpoch` (its COCO detections byte for byte).
#    `ablate --jobs 2` killed -9 must take its child processes (one a run) along.
# 4. ablate, full disk: --runs on a 1 MB tmpfs (a checkpoint is 8.7 MB): exit 1 naming the checkpoint and
#    the full disk, no `checkpoint.tmp-*` left; the rerun with --runs on disk equals the reference apart from
#    `measured`. --results on a full tmpfs: exit 1 ("records cannot be written") before any training.
# 5. search, kill -9: a tiny space (ablations/search/fish.yaml shrunk as in Tests/SearchTests: 400 synthetic
#    images, 2 epochs, evolution of population 2, budget 4) searched uninterrupted, then elsewhere killed mid-candidate and
#    rerun: it replays its JSON-lines log, trains only the missing candidates, and the log (apart from
#    `seconds`), summary.json and the written spec equal the reference's.
# 6. search, full disk: --results on a full tmpfs: exit 1 naming the log's folder and the full disk before
#    any training, no torn line; a
#    tmpfs filled after the first logged candidate: exit 1 naming the full disk, then (space freed) the rerun
#    completes with the reference's log. Neither search touches ablations/ (specs only with --write-specs).
set -eu
if [ $# -gt 0 ]; then
    case $1 in /*) BIN=$1 ;; *) BIN=$(pwd)/$1 ;; esac
fi
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/.build/release/spinebench}
F=$ROOT/.build/fault
LOG=$F/log
STARTED=$(date +%s)
HOST=$(uname -n)    # what gethostname() gives, as DurableFile names its temporaries
MOUNTS=""           # tmpfs folders this script mounted
BG=""               # the background spinebench this script started and has not waited for yet
PROBLEMS=0

say() { echo "fault-test: $*"; }
fail() { echo "fault-test: FAILED: $*" >&2; exit 1; }
# problem WHAT: a failed check after which the probe can go on; the script fails at the end.
problem() { echo "fault-test: FAILED: $*" >&2; PROBLEMS=$((PROBLEMS + 1)); }

[ -x "$BIN" ] || fail "$BIN not found (make build)"
if ! command -v jq > /dev/null; then
    [ "$(id -u)" = 0 ] || fail "needs jq to compare records: apt-get install jq (or run as root)"
    say "installing jq"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq > /dev/null
fi

on_exit() {
    rc=$?
    trap - EXIT
    for pid in $BG; do
        kill -9 "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
    done
    for m in $MOUNTS; do umount "$m" 2> /dev/null || umount -l "$m" 2> /dev/null || true; done
    [ $rc = 0 ] || say "exit $rc after $(($(date +%s) - STARTED)) s (logs in $LOG)"
    exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- helpers -----------------------------------------------------------------------------------------------
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# rand_below N: a pseudo-random integer in 0..N-1.
rand_below() {
    n=$1
    [ "$n" -gt 0 ] || n=1
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' \n')
    echo $((r * n / 65536))
}
sleep_ms() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }
md5() { md5sum "$1" | cut -c1-32; }
temporaries() { find "$@" -name '*.tmp-*' 2> /dev/null; }
# error_line LOG: the command's error message, for the report.
error_line() { grep -i -m1 '^error:' "$1" || echo "(no error message)"; }
# run NAME COMMAND...: runs COMMAND in the foreground, output in $LOG/NAME.log; its exit code in RC.
run() {
    out=$LOG/$1.log
    shift
    RC=0
    "$@" > "$out" 2>&1 || RC=$?
}
# start NAME COMMAND...: the same in the background; its pid in PID (and BG, until finish).
start() {
    out=$LOG/$1.log
    shift
    "$@" > "$out" 2>&1 &
    PID=$!
    BG=$PID
}
# finish: waits for the background command; its exit code in RC.
finish() {
    RC=0
    wait "$PID" 2> /dev/null || RC=$?    # (no "Killed" from the shell: the probes report the exit code)
    BG=""
}
alive() { kill -0 "$PID" 2> /dev/null; }
# kill9: SIGKILL to the background spinebench (checked to be ours), then finish. KILLED=yes if it still ran;
# LEFT: the pids of processes of ours still running 2 s later (a problem; they are killed then).
kill9() {
    KILLED=no
    if alive && tr '\0' ' ' < /proc/"$PID"/cmdline 2> /dev/null | grep -qF "$F/"; then
        kill -9 "$PID" 2> /dev/null && KILLED=yes
    fi
    finish
    # A kill -9 reaches no child: nothing of ours may run on (every command line names the scratch folder).
    tries=0
    while left=$(ours) && [ -n "$left" ] && [ $tries -lt 20 ]; do sleep 0.1; tries=$((tries + 1)); done
    LEFT=$(echo "$left" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ *$//')
    if [ -n "$LEFT" ]; then
        problem "processes still running 2 s after the kill (killed now): $left"
        for pid in $LEFT; do kill -9 "$pid" 2> /dev/null || true; done
    fi
}
ours() { ps -eo pid=,stat=,args= | grep -F "$F/" | grep -v -e grep -e ' Z' || true; }
# wait_for SECONDS WHAT TEST...: polls TEST every 0.1 s while the background command runs.
wait_for() {
    limit=$1 what=$2
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@"; do
        alive || { finish; fail "the command ended (exit $RC) before $what ($out)"; }
        [ "$(date +%s)" -lt "$deadline" ] || fail "no $what after ${limit}s ($out)"
        sleep 0.1
    done
}
# mount_tmpfs DIR SIZE: false when it cannot (not root, no mount permission in a container).
TMPFS=unknown
mount_tmpfs() {
    mkdir -p "$1"
    if [ "$TMPFS" != no ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size="$2" tmpfs "$1" 2> /dev/null; then
        MOUNTS="$1 $MOUNTS"
        TMPFS=yes
        return 0
    fi
    TMPFS=no
    return 1
}
unmount() {
    umount "$1"
    rest=""
    for m in $MOUNTS; do [ "$m" = "$1" ] || rest="$rest $m"; done
    MOUNTS=$rest
}
# fill DIR: fills the file system of DIR to the last byte.
fill() { dd if=/dev/zero of="$1/fill" bs=4k 2> /dev/null || true; }
# same_json A B FILTER: the two files equal under the jq FILTER (diff on stderr otherwise).
same_json() {
    jq -S "$3" "$1" > "$F/a.json" && jq -S "$3" "$2" > "$F/b.json" && diff -u "$F/a.json" "$F/b.json" >&2
}
# checksum_of FILE: the content checksum `data inspect` verified, or nothing when it did not verify.
checksum_of() {
    "$BIN" data inspect "$1" > "$F/inspect.out" 2>&1 || return 0
    sed -n 's/^checksum: stored \([^,]*\), computed \([^:]*:[^:]*\): OK$/\1/p' "$F/inspect.out"
}

# --- scratch folder ----------------------------------------------------------------------------------------
# A killed earlier run (no EXIT trap then) may have left its tmpfs folders mounted: only ours, under $F.
while read -r _ mp _; do
    case $mp in "$F"/*) umount "$mp" 2> /dev/null || umount -l "$mp" ;; esac
done < /proc/mounts
rm -rf "$F"
mkdir -p "$LOG"
# search must leave the shipped specs alone: everything under ablations/ is compared at the end.
ablations_state() {
    { git status --porcelain ablations/ 2> /dev/null || true; find ablations -type f | sort | xargs md5sum; } > "$1"
}
ablations_state "$F/ablations-before.txt"
say "$BIN, scratch folder $F, host $HOST"

# --- 1. data build, full disk -----------------------------------------------------------------------------
D=$F/data-full
if mount_tmpfs "$D" 3m; then
    run data-full-small "$BIN" data build shapes --out "$D/shapes.h5" --size 32 --train 100 --val 20
    [ $RC = 0 ] || fail "data build of a small file on a 3 MB tmpfs: exit $RC ($out)"
    old=$(md5 "$D/shapes.h5")
    run data-full "$BIN" data build shapes --out "$D/shapes.h5" --size 96 --train 1000 --force
    what="$(error_line "$out")"
    [ $RC = 1 ] || problem "data build on a full disk: exit $RC, expected 1 ($out)"
    grep -q -i -e "disk full" -e "No space left" "$out" || problem "data build on a full disk does not say so ($out)"
    [ "$(md5 "$D/shapes.h5")" = "$old" ] || problem "data build on a full disk changed the old file"
    [ -n "$(checksum_of "$D/shapes.h5")" ] || problem "the old file no longer verifies: $(cat "$F/inspect.out")"
    t=$(temporaries "$D")
    [ -z "$t" ] || problem "data build on a full disk left $t"
    say "data build, full disk: exit $RC, '$what', the old file byte-identical (md5 $old) and verified, no *.tmp-* left"
    unmount "$D"
else
    say "data build, full disk: skipped (needs root for a tmpfs)"
fi

# --- 2. data build, kill -9 --------------------------------------------------------------------------------
D=$F/data-kill
mkdir -p "$D"
set -- shapes --size 96 --train 600 --val 100
t0=$(now_ms)
run data-reference "$BIN" data build "$@" --out "$D/reference.h5"
build_ms=$(($(now_ms) - t0))
[ $RC = 0 ] || fail "uninterrupted data build: exit $RC ($out)"
reference=$(checksum_of "$D/reference.h5")
[ -n "$reference" ] || fail "the uninterrupted build does not verify: $(cat "$F/inspect.out")"
# An old file of another seed, for kills 2 and 3: it must stay whole until the new one replaces it.
run data-old "$BIN" data build "$@" --seed 7 --out "$D/old.h5"
[ $RC = 0 ] || fail "data build --seed 7: exit $RC ($out)"
oldsum=$(checksum_of "$D/old.h5")
[ -n "$oldsum" ] && [ "$oldsum" != "$reference" ] || fail "the --seed 7 build does not verify or equals the seed-1 one"
kills=0
for i in 1 2 3; do
    if [ $i = 1 ]; then rm -f "$D/shapes.h5"; before="no file"; else cp "$D/old.h5" "$D/shapes.h5"; before="an old file"; fi
    delay=$(rand_below $((build_ms * 3 / 4)))
    start data-kill-$i "$BIN" data build "$@" --out "$D/shapes.h5" --force
    sleep_ms "$delay"
    kill9
    dead=$PID
    [ $KILLED = yes ] && kills=$((kills + 1))
    if [ -e "$D/shapes.h5" ]; then
        sum=$(checksum_of "$D/shapes.h5")
        if [ "$sum" = "$reference" ]; then state="the new file whole"
        elif [ "$sum" = "$oldsum" ] && [ $i != 1 ]; then state="the old file whole"
        else state="the file BROKEN"; problem "after kill $i: $D/shapes.h5 is neither the old nor the new file: $(cat "$F/inspect.out")"; fi
    elif [ $i = 1 ]; then
        state="no file"
    else
        state="the old file GONE"; problem "after kill $i: the old $D/shapes.h5 is gone"
    fi
    t=$(temporaries "$D")
    say "data build --force over $before, kill -9 #$i after $delay of ~$build_ms ms: exit $RC$([ $KILLED = yes ] || echo ' (ended before the kill)'), $state (data inspect), temporaries: ${t:-none}"
done
[ $kills -gt 0 ] || problem "none of the 3 builds was still running at its kill"
# What a kill during the write leaves (the write takes a few ms, so the kills above rarely hit it), beside
# a live process's temporary and another host's: the rerun sweeps the first only.
stale=$D/shapes.h5.tmp-$HOST-$dead
live=$D/shapes.h5.tmp-$HOST-$$
other=$D/shapes.h5.tmp-elsewhere-$dead
kill -0 "$dead" 2> /dev/null && fail "pid $dead still runs"
for f in "$stale" "$live" "$other"; do [ -e "$f" ] || head -c 100000 /dev/urandom > "$f"; done
run data-rerun "$BIN" data build "$@" --out "$D/shapes.h5" --force
[ $RC = 0 ] || problem "data build rerun: exit $RC ($out)"
sum=$(checksum_of "$D/shapes.h5")
[ "$sum" = "$reference" ] || problem "rerun checksum '$sum' differs from the uninterrupted build's $reference"
[ ! -e "$stale" ] || problem "the rerun did not sweep $stale (pid $dead is dead)"
[ -e "$live" ] || problem "the rerun removed $live, the temporary of a running process"
[ -e "$other" ] || problem "the rerun removed $other, another host's temporary"
rm -f "$live" "$other"
t=$(temporaries "$D")
[ -z "$t" ] || problem "temporaries left after the rerun: $t"
say "data build, rerun --force: exit $RC, checksum $sum = the uninterrupted build's; swept the dead pid's temporary, kept a live pid's and another host's; no *.tmp-* left"
old=$(md5 "$D/shapes.h5")
run data-noforce "$BIN" data build "$@" --out "$D/shapes.h5"
[ $RC = 64 ] || problem "data build over an existing file without --force: exit $RC, expected 64 ($out)"
[ "$(md5 "$D/shapes.h5")" = "$old" ] || problem "data build without --force changed the existing file"
say "data build, no --force over an existing file: exit $RC, '$(error_line "$out")', the file unchanged"

# --- 3. ablate, kill -9 mid-run and resume ---------------------------------------------------------------
A=$F/ablate
ABL=$A/connections-fault.yaml
mkdir -p "$A"
sed 's/^  smoke:$/  smoke: \&smoke/' ablations/connections.yaml > "$ABL"
grep -q '^  smoke: &smoke$' "$ABL" || fail "ablations/connections.yaml has no '  smoke:' profile line to extend"
cat >> "$ABL" <<'EOF'
  fault:   # added by scripts/fault-test.sh: long enough to kill between checkpoints (one per epoch)
    <<: *smoke
    dataset: { size: 64, train: 800, val: 32, max_objects: 3, min_side: 11, max_side: 48 }
    epochs: 3
EOF
# ablate_start NAME RESULTS RUNS: shard 0/4 (one run) of the fault profile, one thread, in the background.
ablate_start() {
    start "$1" "$BIN" ablate "$ABL" --profile fault --shard 0/4 --threads 1 --results "$2" --runs "$3" --data "$A/data"
}
t0=$(now_ms)
ablate_start ablate-reference "$A/ref/results" "$A/ref/runs"
finish
run_ms=$(($(now_ms) - t0))
[ $RC = 0 ] || fail "uninterrupted ablate: exit $RC ($out)"
model=$(sed -n 's|.* -> .*/records/connections/fault/\([^/]*\)/seed-0\.json$|\1|p' "$out")
[ -n "$model" ] || fail "cannot tell the model of shard 0/4 from $out"
record=records/connections/fault/$model/seed-0.json
run_dir=connections/fault/$model/seed-0
say "ablate reference: $model, 3 epochs of 800 images, one thread: exit 0 in $run_ms ms"

t0=$(now_ms)
ablate_start ablate-kill "$A/kill/results" "$A/kill/runs"
meta=$A/kill/runs/$run_dir/checkpoint/meta.json
wait_for 600 "a first checkpoint ($meta)" test -f "$meta"
first_ms=$(($(now_ms) - t0))
# Anywhere in the rest of the run's training (epochs 2 and 3 and their checkpoints), not after it: the
# reference trained its 3 epochs in measured.trainSeconds, 2 of which remain (a kill 0-90% of the way), and
# this run took first_ms for startup and one epoch (1.5 times that, should the machine have become faster).
train_ms=$(jq '.measured.trainSeconds * 1000 | floor' "$A/ref/results/$record")
window=$((train_ms * 3 / 5))
[ "$window" -lt $((first_ms * 3 / 2)) ] || window=$((first_ms * 3 / 2))
delay=$(rand_below "$window")
sleep_ms "$delay"
kill9
[ $KILLED = yes ] || fail "ablate ended (exit $RC) before its kill $delay ms after the first checkpoint: make the fault profile longer"
done_epochs=$(jq -r .state.epochsDone "$A/kill/runs/$run_dir/checkpoint/meta.json" 2> /dev/null \
    || jq -r .state.epochsDone "$A/kill/runs/$run_dir/checkpoint.old/meta.json" 2> /dev/null || echo '?')
[ ! -e "$A/kill/results/$record" ] || problem "the killed run wrote a record"
t=$(temporaries "$A/kill" | sed "s|$A/kill/||" | tr '\n' ' ')
say "ablate, kill -9 at ${first_ms} ms (first checkpoint) + $delay ms: exit $RC, $done_epochs of 3 epochs checkpointed, no record, temporaries: ${t:-none}"
ablate_start ablate-resume "$A/kill/results" "$A/kill/runs"
finish
[ $RC = 0 ] || fail "ablate rerun after the kill: exit $RC ($out)"
resumed=$(sed -n 's/.*resuming from the checkpoint after epoch \([0-9]*\).*/\1/p' "$out")
[ -n "$resumed" ] && [ "$resumed" -ge 1 ] || problem "the rerun did not resume from a checkpoint ($out)"
[ "$(jq .training.resumedFromEpoch "$A/kill/results/$record")" = "$resumed" ] \
    || problem "the record's training.resumedFromEpoch is not $resumed"
same_json "$A/ref/results/$record" "$A/kill/results/$record" 'del(.measured) | del(.training.resumedFromEpoch)' \
    || problem "$record after kill and resume differs from the reference's (+: resumed)"
cmp -s "$A/ref/runs/$run_dir/val-detections.json" "$A/kill/runs/$run_dir/val-detections.json" \
    || problem "val-detections.json after kill and resume differs from the reference's"
t=$(temporaries "$A/kill")
[ -z "$t" ] && [ ! -e "$A/kill/runs/$run_dir/checkpoint.old" ] || problem "left after the rerun: $t $(ls -d "$A/kill/runs/$run_dir/checkpoint.old" 2> /dev/null)"
say "ablate, rerun: exit $RC, resumed after epoch $resumed, record = the reference's apart from measured and training.resumedFromEpoch, detections identical, no *.tmp-* left"

# ablate --jobs 2 (what `make ablation-*` runs on 2 cores) trains its runs in child processes: a kill -9 of
# the parent must take them along, or they would train on, writing where a rerun's runs write. Killed once
# both children train (their first progress lines relayed), so no child is about to write to the parent.
start ablate-jobs "$BIN" ablate "$ABL" --profile fault --shard 0/2 --jobs 2 --threads 2 \
    --results "$A/jobs/results" --runs "$A/jobs/runs" --data "$A/data"
both_train() { [ "$(grep -c '^\[[01]\] .* step 1/' "$out")" -ge 2 ]; }
wait_for 120 "two training children of ablate --jobs 2" both_train
kids=$(ps -o pid= --ppid "$PID" | tr -s ' \n' ' ' | sed 's/^ *//; s/ *$//')
delay=$(rand_below 1000)
sleep_ms "$delay"
kill9
[ $KILLED = yes ] || problem "ablate --jobs 2 ended (exit $RC) before its kill"
say "ablate --jobs 2, kill -9 of the parent $delay ms after both children started training: exit $RC, children (pids $kids) still running 2 s later: ${LEFT:-none}"

# --- 4. ablate, full disk ------------------------------------------------------------------------------------
T=$A/tiny
if mount_tmpfs "$T" 1m; then
    ablate_start ablate-full-runs "$A/full/results" "$T/runs"
    finish
    what="$(error_line "$out")"
    [ $RC = 1 ] || problem "ablate with --runs on a full disk: exit $RC, expected 1 ($out)"
    grep -i '^error:' "$out" | grep -q checkpoint || problem "the error does not name the checkpoint ($out)"
    grep -q -i -e "disk full" -e "No space left" "$out" || problem "the error does not say the disk is full ($out)"
    t=$(temporaries "$T")
    [ -z "$t" ] || problem "ablate on a full disk left $t"
    [ ! -e "$A/full/results/$record" ] || problem "ablate on a full disk wrote a record"
    say "ablate, --runs on a 1 MB tmpfs: exit $RC, '$what', no checkpoint.tmp-* left, no record"
    ablate_start ablate-full-rerun "$A/full/results" "$A/full/runs"
    finish
    [ $RC = 0 ] || fail "ablate rerun with --runs on disk: exit $RC ($out)"
    same_json "$A/ref/results/$record" "$A/full/results/$record" 'del(.measured)' \
        || problem "$record after the full disk differs from the reference's (+: rerun)"
    say "ablate, rerun with --runs on disk: exit $RC, record = the reference's apart from measured"

    rm -rf "$T/runs"
    fill "$T"
    t0=$(now_ms)
    ablate_start ablate-full-results "$T/results" "$A/full-results/runs"
    finish
    ms=$(($(now_ms) - t0))
    what="$(error_line "$out")"
    [ $RC = 1 ] || problem "ablate with --results on a full disk: exit $RC, expected 1 ($out)"
    grep -q "records cannot be written" "$out" || problem "ablate with --results on a full disk: no 'records cannot be written' ($out)"
    [ ! -e "$A/full-results/runs" ] && ! grep -q epoch "$out" || problem "ablate with --results on a full disk started training ($out)"
    t=$(temporaries "$T")
    [ -z "$t" ] || problem "ablate with --results on a full disk left $t"
    say "ablate, --results on a full tmpfs: exit $RC after $ms ms, '$what', nothing trained, no *.tmp-* left"
    unmount "$T"
else
    say "ablate, full disk: skipped (needs root for a tmpfs)"
fi

# --- 5. search, kill -9 mid-candidate and resume -------------------------------------------------------------
S=$F/search
SPACE=$S/space.yaml
mkdir -p "$S"
cp ablations/search/fish.yaml "$SPACE"
# edit OLD NEW: one literal replacement in the space file, which must contain OLD.
edit() {
    grep -qF "$1" "$SPACE" || fail "ablations/search/fish.yaml has no '$1' to shrink"
    sed "s|$1|$2|" "$SPACE" > "$SPACE.new" && mv "$SPACE.new" "$SPACE"
}
edit "name: fish" "name: fault"
edit "kind: fmnist-det, fallback: shapes, seed: 0" "kind: shapes, seed: 5"
edit "size: 96, train: 2000, val: 500, max_objects: 4, min_side: 16, max_side: 72" "size: 64, train: 300, val: 100, max_objects: 4, min_side: 11, max_side: 48"
edit "input: 96" "input: 64"
edit "endpoints: 64" "endpoints: 16"
edit "head_filters: 64" "head_filters: 16"
edit "head_convs: 2" "head_convs: 1"
edit "epochs: 6" "epochs: 2"
edit "batch: 16" "batch: 10"
grep -q "^algorithm:" "$SPACE" || fail "ablations/search/fish.yaml has no algorithm line"
sed "s|^algorithm:.*|algorithm: {kind: evolution, population: 2, sample: 2}|" "$SPACE" > "$SPACE.new" && mv "$SPACE.new" "$SPACE"
edit "budget: 18" "budget: 4"
SLOG=search/fault/shard-0-of-1.jsonl
# search_start NAME RESULTS: the tiny space, one thread, in the background; the candidates' runs go on disk,
# to $S/runs/X for RESULTS .../X/results (a rerun finds the killed candidate's checkpoints there).
search_start() {
    start "$1" "$BIN" search "$SPACE" --threads 1 --results "$2" --runs "$S/runs/$(basename "$(dirname "$2")")" --data "$S/data"
}
lines() { [ -f "$1" ] && wc -l < "$1" | tr -d ' ' || echo 0; }
logged() { [ "$(lines "$1")" -ge 1 ]; }
# same_search RESULTS: the log (apart from seconds), summary.json (apart from seconds) and the written spec
# (apart from the results folder it names) equal the reference's.
same_search() {
    jq -c 'del(.seconds)' "$S/ref/results/$SLOG" > "$F/a.jsonl"
    jq -c 'del(.seconds)' "$1/$SLOG" > "$F/b.jsonl"
    diff -u "$F/a.jsonl" "$F/b.jsonl" >&2 || { problem "$1/$SLOG differs from the reference's log"; return 0; }
    same_json "$S/ref/results/search/fault/summary.json" "$1/search/fault/summary.json" 'del(.seconds)' \
        || { problem "$1/search/fault/summary.json differs from the reference's"; return 0; }
    sed "s|$1/|$S/ref/results/|g" "$1/search/fault/fish.yaml" | diff -u "$S/ref/results/search/fault/fish.yaml" - >&2 \
        || { problem "$1/search/fault/fish.yaml differs from the reference's"; return 0; }
}
t0=$(now_ms)
search_start search-reference "$S/ref/results"
finish
search_ms=$(($(now_ms) - t0))
[ $RC = 0 ] || fail "uninterrupted search: exit $RC ($out)"
[ "$(lines "$S/ref/results/$SLOG")" = 4 ] || fail "the reference search logged $(lines "$S/ref/results/$SLOG") candidates, not 4"
say "search reference: 4 candidates (2 random, 2 mutations), one thread: exit 0 in $search_ms ms"

t0=$(now_ms)
search_start search-kill "$S/kill/results"
wait_for 300 "a first logged candidate" logged "$S/kill/results/$SLOG"
first_ms=$(($(now_ms) - t0))
delay=$(rand_below "$first_ms")    # within the second candidate or early in the third
sleep_ms "$delay"
kill9
[ $KILLED = yes ] || fail "search ended (exit $RC) before its kill"
n=$(lines "$S/kill/results/$SLOG")
jq -c . "$S/kill/results/$SLOG" > /dev/null 2>&1 || say "  (the kill tore the log's last line: the rerun must drop it)"
say "search, kill -9 at ${first_ms} ms (first candidate logged) + $delay ms: exit $RC, $n of 4 candidates logged"
search_start search-resume "$S/kill/results"
finish
[ $RC = 0 ] || fail "search rerun after the kill: exit $RC ($out)"
trained=$(grep -c '^fault #[0-9]* \[' "$out" || true)
[ "$trained" = $((4 - n)) ] || problem "the rerun trained $trained candidates, not the $((4 - n)) missing ($out)"
same_search "$S/kill/results"
t=$(temporaries "$S/kill" "$S/runs/kill")
[ -z "$t" ] || problem "left after the search rerun: $t"
t=$(find "$S/runs/kill" -type f)
[ -z "$t" ] || problem "the candidates' runs were not thrown away after the rerun: $t"
say "search, rerun: exit $RC, trained the $trained missing candidates; log (apart from seconds), summary.json and spec = the reference's; no *.tmp-* left, no candidate run kept"

# --- 6. search, full disk -------------------------------------------------------------------------------------
T=$S/tiny
if mount_tmpfs "$T" 1m; then
    fill "$T"
    search_start search-full "$T/results"
    finish
    what="$(error_line "$out")"
    [ $RC = 1 ] || problem "search with --results on a full disk: exit $RC, expected 1 ($out)"
    grep -i '^error:' "$out" | grep -q "search/fault: the search log cannot be written" || problem "search on a full disk: the error does not name the log's folder ($out)"
    grep -q "No space left" "$out" || problem "search on a full disk: the error does not say the disk is full ($out)"
    [ "$(lines "$T/results/$SLOG")" = 0 ] && [ ! -s "$T/results/$SLOG" ] \
        || problem "search on a full disk left a half-written log: $(wc -c < "$T/results/$SLOG") bytes"
    t=$(temporaries "$T")
    [ -z "$t" ] || problem "search on a full disk left $t"
    trained=$(grep -c 'step 1/' "$out" || true)
    [ "$trained" = 0 ] || problem "search on a full disk trained $trained candidate(s) before failing"
    say "search, --results on a full tmpfs: exit $RC, '$what', nothing trained, no line logged, no *.tmp-* left"

    rm -rf "$T/results" "$T/fill"
    search_start search-fills "$T/results"
    wait_for 300 "a first logged candidate" logged "$T/results/$SLOG"
    fill "$T"
    n=$(lines "$T/results/$SLOG")
    finish
    what="$(error_line "$out")"
    [ $RC = 1 ] || problem "search when the disk fills: exit $RC, expected 1 ($out)"
    grep -q "No space left" "$out" || problem "search when the disk fills: the error does not say the disk is full: '$what'"
    t=$(temporaries "$T")
    [ -z "$t" ] || problem "search when the disk fills left $t"
    torn=""
    [ ! -s "$T/results/$SLOG" ] || [ "$(tail -c 1 "$T/results/$SLOG" | od -An -c | tr -d ' ')" = '\n' ] \
        || torn=" and a torn one (the rerun must drop it)"
    say "search, the disk full after $n logged candidate(s): exit $RC, '$what', $(lines "$T/results/$SLOG") whole line(s) in the log$torn, no *.tmp-* left"
    rm -f "$T/fill"
    search_start search-fills-rerun "$T/results"
    finish
    [ $RC = 0 ] || fail "search rerun with free space: exit $RC ($out)"
    same_search "$T/results"
    say "search, rerun with space freed: exit $RC, log (apart from seconds), summary.json and spec = the reference's"
    unmount "$T"
else
    say "search, full disk: skipped (needs root for a tmpfs)"
fi
ablations_state "$F/ablations-after.txt"
diff -u "$F/ablations-before.txt" "$F/ablations-after.txt" >&2 || problem "the searches changed ablations/ (+: after)"
say "search: ablations/ unchanged (git status and every file's md5), the specs written only under --results"

# --- end -------------------------------------------------------------------------------------------------------
elapsed=$(($(date +%s) - STARTED))
[ "$PROBLEMS" = 0 ] || fail "$PROBLEMS check(s) failed (above), in $elapsed s; logs in $LOG"
say "passed in $elapsed s"

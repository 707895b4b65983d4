#!/usr/bin/env bash
# A whole GPU session in one command, within a time budget: the Thyroid runs of the gap to the
# paper (the authors' pipeline and its two controls, issue 26), Table 1 at paper scale with its four
# data sets trained at once (timed from a cold start: fresh compiler caches), the stacked trainer
# against one model at a time (bench_stacked.py), the trainer's CUDA checks (cuda_checks.py),
# then toy_sensitivity and latent (authors-network) at their profiles, each in what is left.
#
#   benchmarks/gpu_session.sh OUT BUDGET_S
#
# OUT receives at most 8 files, none in a subfolder: machine.txt, session.log, bench.json,
# cuda_checks.json and results.tar.gz (results/<experiment>/*.json of every stored part and each
# stage's log). Training checkpoints stay under .cache/gpu-session in the checkout, so a second
# call on the same machine resumes an unfinished part. STAGES picks and orders the stages
# (default "gap table1 bench toy checks latent"); DEVICE (default cuda) and QUICK=1 (every experiment at
# its quick profile, the benchmarks tiny) allow a try on a CPU first.
set -uo pipefail
if [ $# -ne 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
    sed -n 2,15p "$0" >&2
    exit 2
fi
out=$1 budget=$2
mkdir -p "$out" || exit 2
python=${PYTHON:-python3}
device=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
export RADOGAGA_CACHE=${RADOGAGA_CACHE:-$PWD/.cache/gpu-session}
work=$PWD/.cache/gpu-session-out
mkdir -p "$work"
start=$(date +%s)
reserve=15  # seconds kept for packing the results
left() { echo $((budget - ($(date +%s) - start) - reserve)); }
log() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$out/session.log"; }

stage_budget() {  # the smaller of the stage's own cap and what is left
    local cap=$1 rest
    rest=$(left)
    [ "$rest" -lt "$cap" ] && cap=$rest
    echo "$cap"
}

run_stage() {  # name cap command...
    local name=$1 cap seconds status
    cap=$(stage_budget "$2")
    shift 2
    if [ "$cap" -lt 20 ]; then
        log "$name: skipped, $cap s left"
        return
    fi
    log "$name: start, budget $cap s"
    seconds=$(date +%s)
    timeout --signal=TERM --kill-after=30 "$cap" "$@" >"$work/$name.log" 2>&1
    status=$?
    log "$name: exit status $status after $(($(date +%s) - seconds)) s"
    tail -n 25 "$work/$name.log"
}

experiment() {  # name cap experiment options...: one experiment through benchmarks/gpu_run.sh, which stops
    local name=$1 cap  # itself 10 s before the stage's own limit, so that it stops cleanly
    cap=$(stage_budget "$2")
    shift 2
    run_stage "$name" "$cap" env DEVICE="$device" RESUME_DIR="$work/none" \
        bash benchmarks/gpu_run.sh "$work/$name" "$((cap > 30 ? cap - 10 : 20))" "$@"
}

{
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null
    echo "cpu cores: $(nproc --all)"
    "$python" -c 'import sys, torch, numpy, sklearn; print("python", sys.version.split()[0], "torch", torch.__version__, "numpy", numpy.__version__, "scikit-learn", sklearn.__version__)'
    echo "code: ${RADOGAGA_GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null)}"
} >"$out/machine.txt" 2>&1

quick=${QUICK:-0}
profile() { [ "$quick" = 1 ] && echo quick || echo "$1"; }
if [ "$quick" = 1 ]; then
    bench_size=(--models 4 --steps 10 --sequential-models 1 --sequential-steps 10)
    check_steps=20
else
    bench_size=(--models 80 --steps 300 --sequential-models 2 --sequential-steps 300)
    check_steps=200
fi

for stage in ${STAGES:-gap table1 bench toy checks latent}; do
    case $stage in
        gap)  # Thyroid in the authors' pipeline, then without its standardisation, then on the paper's split
            experiment gap-tnakae 240 anomaly --profile "$(profile tnakae)" --set 'datasets=["thyroid"]'
            experiment gap-minmax 150 anomaly_controls --profile "$(profile paper)" --set 'variants=["tnakae-minmax"]'
            experiment gap-stratified 200 anomaly_controls --profile "$(profile paper)" \
                --set 'variants=["tnakae-stratified"]' ;;
        table1)  # cold compiler caches, so that the wall time is a fresh checkout's
            TORCHINDUCTOR_CACHE_DIR=$(mktemp -d) TRITON_CACHE_DIR=$(mktemp -d) \
                experiment table1 330 anomaly --profile "$(profile paper)" ;;
        bench)
            run_stage bench 150 "$python" benchmarks/bench_stacked.py --device "$device" "${bench_size[@]}" \
                --kernels --out "$out/bench.json" ;;
        checks)
            run_stage checks 120 "$python" benchmarks/cuda_checks.py --device "$device" --steps "$check_steps" \
                --out "$out/cuda_checks.json" ;;
        toy)
            experiment toy 150 toy_sensitivity --profile "$(profile paper)" ;;
        latent)
            experiment latent 100000 latent --profile "$(profile authors-network)" ;;
        *)
            log "unknown stage $stage (gap, table1, bench, checks, toy, latent)"
            exit 2 ;;
    esac
done

(cd "$work" && tar -czf "$out/results.tar.gz" ./*.log $(ls -d ./*/results 2>/dev/null))
log "packed $(du -h "$out/results.tar.gz" | cut -f1) of results"

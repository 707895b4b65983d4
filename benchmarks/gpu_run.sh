#!/usr/bin/env bash
# One experiment's paper-scale parts on a rented GPU machine, within a time budget.
#
#   benchmarks/gpu_run.sh OUT BUDGET_S EXPERIMENT [options of `python -m radogaga run`...]
#
# Stores results under OUT/results/<experiment>/ (stored parts are skipped), appends the
# machine's description to OUT/machine.txt and the log to OUT/log.txt. Stops after
# BUDGET_S seconds (a whole number >= 1): the run saves its checkpoints, and every
# checkpoint file of the experiment is handed back in OUT as handback--*.part-* pieces
# (15 MiB each, a size any transfer takes) listed in OUT/handback.json. Put those files in
# RESUME_DIR (default .resume) for the next call and it goes on from there; pieces written
# by other code are refused (that code's checkpoints would never be resumed).
# DEVICE (default cuda) picks the device, so that the script can be tried on a CPU first.
set -uo pipefail
if [ $# -lt 3 ]; then
    sed -n 2,13p "$0" >&2
    exit 2
fi
out=$1 budget=$2 experiment=$3
shift 3
if ! [[ $budget =~ ^[1-9][0-9]*$ ]]; then
    echo "gpu_run.sh: BUDGET_S must be a whole number of seconds >= 1, got '$budget'" >&2
    exit 2
fi
if [ -z "$out" ] || { [ -e "$out" ] && [ ! -d "$out" ]; }; then
    echo "gpu_run.sh: OUT '$out' is not a folder; give a folder for the results, log and hand-back" >&2
    exit 2
fi
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
export RADOGAGA_CACHE=${RADOGAGA_CACHE:-$(mktemp -d)}
mkdir -p "$out" || exit 2
"$python" -m radogaga.handback unpack "${RESUME_DIR:-.resume}" "$RADOGAGA_CACHE" "$experiment" || exit 2

{
    echo "== $(date -u +"%Y-%m-%dT%H:%M:%SZ") gpu_run.sh $experiment $*"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
    echo "cpu cores: $(nproc --all)"
    "$python" -c 'import sys, torch, numpy, sklearn; print("python", sys.version.split()[0], "torch", torch.__version__, "numpy", numpy.__version__, "scikit-learn", sklearn.__version__)'
} >> "$out/machine.txt" 2>&1

start=$(date +%s)
echo "== $(date -u +"%Y-%m-%dT%H:%M:%SZ") gpu_run.sh $experiment $* (budget $budget s)" >> "$out/log.txt"
timeout --signal=TERM --kill-after=30 "$budget" "$python" -m radogaga run "$experiment" --device "${DEVICE:-cuda}" \
    --out "$out/results" "$@" 2>&1 | tee -a "$out/log.txt"
status=${PIPESTATUS[0]}
echo "exit status $status after $(($(date +%s) - start)) s" | tee -a "$out/log.txt"
"$python" -m radogaga.handback pack "$RADOGAGA_CACHE" "$experiment" "$out" 2>&1 | tee -a "$out/log.txt"
exit "$status"

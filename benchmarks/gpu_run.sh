#!/usr/bin/env bash
# One experiment's paper-scale parts on a rented GPU machine, within a time budget.
#
#   benchmarks/gpu_run.sh OUT BUDGET_S EXPERIMENT [options of `python -m radogaga run`...]
#
# Stores results under OUT/results/<experiment>/ (stored parts are skipped), writes the
# machine's description to OUT/machine.txt and the log to OUT/log.txt. Stops after
# BUDGET_S seconds; an unfinished part's training checkpoint is then left flat in OUT as
# checkpoint--<folder>.pt.part-aa, -ab, ... (pieces of 15 MiB, a size any transfer takes).
# Put those files in RESUME_DIR (default .resume) for the next call and it goes on from
# there (the checkpoint's code fingerprint must match).
# DEVICE (default cuda) picks the device, so that the script can be tried on a CPU first.
set -uo pipefail
if [ $# -lt 3 ]; then
    sed -n 2,12p "$0" >&2
    exit 2
fi
out=$1 budget=$2 experiment=$3
shift 3
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
export RADOGAGA_CACHE=${RADOGAGA_CACHE:-$(mktemp -d)}
mkdir -p "$out"
checkpoints=$RADOGAGA_CACHE/checkpoints/$experiment

for first in "${RESUME_DIR:-.resume}"/checkpoint--*.pt.part-aa; do
    [ -e "$first" ] || continue
    folder=$(basename "$first" .pt.part-aa)
    mkdir -p "$checkpoints/${folder#checkpoint--}"
    cat "${first%aa}"* > "$checkpoints/${folder#checkpoint--}/train.pt"
done

{
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
    echo "cpu cores: $(nproc --all)"
    "$python" -c 'import sys, torch, numpy, sklearn; print("python", sys.version.split()[0], "torch", torch.__version__, "numpy", numpy.__version__, "scikit-learn", sklearn.__version__)'
} > "$out/machine.txt" 2>&1

start=$(date +%s)
timeout --signal=TERM --kill-after=30 "$budget" "$python" -m radogaga run "$experiment" --device "${DEVICE:-cuda}" \
    --out "$out/results" "$@" 2>&1 | tee "$out/log.txt"
status=${PIPESTATUS[0]}
echo "exit status $status after $(($(date +%s) - start)) s" | tee -a "$out/log.txt"

for left in "$checkpoints"/*/train.pt; do
    [ -e "$left" ] && split -b 15m "$left" "$out/checkpoint--$(basename "$(dirname "$left")").pt.part-"
done
exit "$status"

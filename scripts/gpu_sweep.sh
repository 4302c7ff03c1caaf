#!/usr/bin/env bash
# Run a sweep on a lent GPU machine in one call, and pack what it measured for the way back.
#
#   JOBS=8 START_UNTIL=4 STOP_AFTER=500 scripts/gpu_sweep.sh sweeps/issue-18.yaml [--only a,b]
#
# The machine is bare and offline: packages it lacks travel as wheels in .whl/ (installed into
# /tmp/site, nothing else touched). Runs go to runs/gpu/, results (no weights) to
# results-gpu/; the results, the logs and the sweep table are packed into $OUT (or out/)
# as results.tgz, in pieces under 15 MB. STOP_AFTER seconds after the start, runs still
# training are abandoned so that what finished is packed before the lease's limit.
# A machine stays warm for a short while after a call and keeps runs/gpu: calling the same
# command again at once resumes every abandoned run from its newest epoch checkpoint (issue
# 34's eight 8-epoch runs trained in 8.4 min side by side on an H200 and needed a second call
# of 2 min for their evaluations).
set -uo pipefail
SWEEP=${1:?usage: scripts/gpu_sweep.sh SWEEP.yaml [sweep.py options]}
shift
PYTHON=${PYTHON:-python3}
OUT=${OUT:-out}
JOBS=${JOBS:-8}
START_UNTIL=${START_UNTIL:-4}
STOP_AFTER=${STOP_AFTER:-500}
RUNS=runs/gpu
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src:$PWD

# Fail in seconds, not minutes, when the machine's packages do not fit ours. An older
# datasets (in .whl/fallback/) for a machine whose pyarrow is too old for the newest.
check() {
    "$PYTHON" - <<'EOF'
import datasets, tokenizers, torch, transformers
import babylm.train, babylm.objectives  # noqa: F401
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print("transformers", transformers.__version__, "tokenizers", tokenizers.__version__,
      "datasets", datasets.__version__)
EOF
}
if ! check; then
    [ -d .whl/fallback ] && "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target /tmp/site .whl/fallback/*.whl
    check || exit 4
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
echo "cpus $(nproc), jobs $JOBS, start until ${START_UNTIL} min, stop after ${STOP_AFTER} s"

timeout --kill-after=5 "$STOP_AFTER" "$PYTHON" -m scripts.sweep "$SWEEP" --jobs "$JOBS" \
    --start-until "$START_UNTIL" --learning-curve --runs-root "$RUNS" --results results-gpu \
    "$@" 2>&1 | tee "$OUT/sweep.log"
echo "sweep exit ${PIPESTATUS[0]}"

# Abandoned runs (this sweep's only: a run elsewhere on the machine is not ours to end, and
# an earlier pattern, "babylm run", ended a CPU run beside a local test of this script):
# their logs say how far they got.
pkill -f -- "--run-dir $RUNS/" 2>/dev/null
pkill -f -- "scripts.learning_curve $RUNS/" 2>/dev/null
tar czf /tmp/results.tgz results-gpu "$RUNS"/*.log "$RUNS"/*.json 2>/dev/null
split -b 15m -d /tmp/results.tgz "$OUT/results.tgz.part-"
ls -la "$OUT"

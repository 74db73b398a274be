#!/usr/bin/env bash
# The toolkit on a GPU machine, in steps that each fit a 10-minute call:
#
#   bash scripts/gpu_check.sh start    # install the stack's missing parts from .gpu/,
#                                      # start mmcv's CUDA build in the background,
#                                      # then the backbone results (no compiled ops needed)
#   bash scripts/gpu_check.sh finish   # wait for the build, check the CUDA ops,
#                                      # pytest -m gpu, the Mask R-CNN pairs, the report
#   bash scripts/gpu_check.sh suite    # the paper-imagenet suite on the GPU, the report
#   bash scripts/gpu_check.sh dry-run  # on a CPU machine: what can run without a GPU
#
# For a Linux machine with an NVIDIA GPU, CUDA's compiler and a CUDA build of
# torch (with torchvision and timm) but no network. It runs on that machine's
# own python3 and torch, not the torch that requirements.txt pins, and says so
# in its report. .gpu/ comes from `bash scripts/gpu_wheels.sh` on a machine
# with the project's .venv. Results go to $OUT when set, else gpu_results/:
# status.json, backbone_exactness.json, backbone_throughput.json,
# maskrcnn.json, suite_paper-imagenet.json, logs.txt and gpu_report.md.
# State between steps (installed packages, the build) is kept in $GPU_STATE
# (default /tmp/fasternet-gpu) while the machine stays up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STEP=${1:-}
STATE=${GPU_STATE:-/tmp/fasternet-gpu}
RESULTS=${OUT:-$ROOT/gpu_results}
PY=${PYTHON:-python3}
SITE=$STATE/site          # the stack's missing parts, mmcv with ops once built
MMCV_PY=$STATE/mmcv-py    # mmcv's Python part only, for the steps before the build ends
mkdir -p "$RESULTS" "$STATE"
LOG=$RESULTS/logs.txt

say() { echo "gpu_check: $*" | tee -a "$LOG"; }
die() { echo "gpu_check: ERROR $*" | tee -a "$LOG" >&2; exit 1; }

# status.json: one key per fact, merged by each step.
note() {
  "$PY" - "$RESULTS/status.json" "$1" "$2" <<'PY'
import json, os, sys
path, key, value = sys.argv[1:]
data = json.load(open(path)) if os.path.isfile(path) else {}
data[key] = value
tmp = path + '.tmp'
json.dump(data, open(tmp, 'w'), indent=1)
os.replace(tmp, path)
PY
}

# The checkout goes first on the path (no .venv and .pth file there).
with_site() { PYTHONPATH=$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH} "$@"; }
with_mmcv_py() { PYTHONPATH=$ROOT:$SITE:$MMCV_PY${PYTHONPATH:+:$PYTHONPATH} "$@"; }

install_stack() {
  [[ -d .gpu/wheels ]] || die ".gpu/wheels is missing: run bash scripts/gpu_wheels.sh where the project's .venv is, and carry .gpu"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .gpu/wheels/*.whl
  rm -rf "$MMCV_PY" "$STATE/mmcv-src"
  mkdir -p "$MMCV_PY"
  tar -xzf .gpu/mmcv-*.tar.gz -C "$STATE"
  mv "$STATE"/mmcv-2.* "$STATE/mmcv-src"
  cp -r "$STATE/mmcv-src/mmcv" "$MMCV_PY/mmcv"
}

# Changes mmcv 2.1.0's source needs on this machine's torch and CUDA, applied
# to the unpacked copy and listed in status.json.
patch_mmcv() {
  local src=$STATE/mmcv-src fixes=()
  local include
  include=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
  if [[ ! -f $include/THC/THCAtomics.cuh ]]; then
    # torch dropped its THC compatibility headers; ATen's atomics replace them.
    grep -rl 'THC/THCAtomics.cuh' "$src/mmcv/ops/csrc" | xargs sed -i 's|#include <THC/THCAtomics.cuh>|#include <ATen/cuda/Atomic.cuh>|'
    fixes+=("THC/THCAtomics.cuh -> ATen/cuda/Atomic.cuh")
  fi
  if "$PY" -c 'import sys, torch; from packaging.version import Version as V; sys.exit(V(torch.__version__.split("+")[0]) < V("2.14"))'; then
    # torch >= 2.14 requires C++20; mmcv's setup.py asks for C++17.
    sed -i 's/-std=c++17/-std=c++20/g; s|/std:c++17|/std:c++20|g' "$src/setup.py"
    fixes+=("-std=c++17 -> -std=c++20 in setup.py")
  fi
  note mmcv_fixes "${fixes[*]:-none}"
}

start_build() {
  local arch
  arch=$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')
  note mmcv_arch "$arch"
  note mmcv_build_started "$(date -u +%FT%TZ)"
  rm -f "$STATE/build.rc"
  # Its own session: it outlives this call while the machine stays up.
  setsid bash -c "
    start=\$(date +%s)
    cd '$STATE/mmcv-src' && FORCE_CUDA=1 MMCV_WITH_OPS=1 TORCH_CUDA_ARCH_LIST='$arch' \
      MAX_JOBS=$(nproc) PYTHONPATH='$SITE' '$PY' -m pip wheel -v --no-deps --no-build-isolation \
      --no-cache-dir -w '$STATE/dist' . > '$STATE/build.log' 2>&1
    rc=\$?
    echo \$(( \$(date +%s) - start )) > '$STATE/build.seconds'
    echo \$rc > '$STATE/build.rc'
  " < /dev/null > /dev/null 2>&1 &
  say "mmcv CUDA build started for sm_${arch/./} on $(nproc) cores (log $STATE/build.log)"
}

wait_build() {
  local limit=${1:-420} waited=0
  while [[ ! -f $STATE/build.rc ]]; do
    (( waited < limit )) || die "mmcv build still running after ${limit}s more; run 'finish' again"
    sleep 10
    waited=$((waited + 10))
  done
  local rc seconds
  rc=$(cat "$STATE/build.rc")
  seconds=$(cat "$STATE/build.seconds")
  note mmcv_build_seconds "$seconds"
  note mmcv_build_rc "$rc"
  if [[ $rc != 0 ]]; then
    { echo "--- mmcv build log (last 80 lines)"; tail -80 "$STATE/build.log"; } >> "$LOG"
    die "mmcv's CUDA build failed (rc $rc) after ${seconds}s; its log's end is in $LOG"
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-cache-dir --upgrade --target "$SITE" "$STATE"/dist/mmcv-*.whl
  say "mmcv CUDA build done in ${seconds}s"
}

check_cuda_ops() {
  with_site "$PY" - <<'PY' 2>&1 | tee -a "$LOG"
import torch
from mmcv.ops import RoIAlign, nms
x = torch.rand(1, 4, 16, 16, device='cuda')
rois = torch.tensor([[0.0, 1.0, 1.0, 9.0, 9.0]], device='cuda')
gpu = RoIAlign((2, 2), 1.0, 2)(x, rois)
cpu = RoIAlign((2, 2), 1.0, 2)(x.cpu(), rois.cpu())
assert torch.allclose(gpu.cpu(), cpu, atol=1e-5), (gpu, cpu)
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float, device='cuda')
_, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7], device='cuda'), 0.5)
assert keep.tolist() == [0, 2], keep
print('mmcv CUDA ops: RoIAlign and nms run on', torch.cuda.get_device_name())
PY
  [[ ${PIPESTATUS[0]} == 0 ]] || die "mmcv's compiled CUDA ops do not run (see $LOG)"
  note mmcv_cuda_ops ok
}

record_machine() {
  note date "$(date -u +%FT%TZ)"
  note python "$("$PY" -c 'import platform; print(platform.python_version())')"
  note torch "$("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())') (the machine's own; requirements.txt pins another)"
  note gpu "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo none)"
  note nvcc "$(nvcc --version 2>/dev/null | tail -1 || echo none)"
  note cpu_cores "$(nproc)"
}

report() { with_site "$PY" tools/gpu_check.py report --out "$RESULTS" | tee -a "$LOG"; }

case $STEP in
  start)
    record_machine
    install_stack
    patch_mmcv
    start_build
    say "backbone results (mmcv's Python part only)"
    set +e
    with_mmcv_py "$PY" tools/gpu_check.py backbone --out "$RESULTS" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    set -e
    report
    [[ $rc == 0 ]] || die "the backbone step failed (rc $rc)"
    ;;
  finish)
    wait_build "${WAIT_S:-420}"
    check_cuda_ops
    say "pytest -m gpu"
    set +e
    with_site "$PY" -m pytest tests -m gpu -q -rs -p no:cacheprovider 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    set -e
    note pytest_gpu "$(grep -E '(passed|failed|error)' "$LOG" | tail -1)"
    say "Mask R-CNN pairs, whole test_step"
    with_site "$PY" tools/gpu_check.py models --out "$RESULTS" 2>&1 | tee -a "$LOG"
    report
    [[ $rc == 0 ]] || die "pytest -m gpu failed (rc $rc)"
    ;;
  suite)
    say "paper-imagenet on the GPU"
    with_site "$PY" tools/benchmark.py --suite paper-imagenet --device cuda \
      --json "$RESULTS/suite_paper-imagenet.json" 2>&1 | tail -60 | tee -a "$LOG"
    report
    ;;
  dry-run)
    # On a CPU machine, with the project's .venv: the wheels install for the
    # GPU machine's Python, the backbone step runs on mmcv's Python part
    # alone, the gpu tests collect and skip, and the report is written.
    PY=.venv/bin/python
    [[ -x $PY ]] || die ".venv is missing: run bash scripts/setup.sh first"
    [[ -d .gpu/wheels ]] || die ".gpu/wheels is missing: run bash scripts/gpu_wheels.sh"
    note dry_run "CPU, $(nproc) cores, $($PY -c 'import torch; print("torch", torch.__version__)')"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$STATE/cp312" \
      --python-version 3.12 --implementation cp --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --upgrade .gpu/wheels/*.whl \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    say "the wheels install for CPython 3.12: $(ls -d "$STATE"/cp312/*.dist-info | wc -l) distributions"
    rm -rf "$MMCV_PY" && mkdir -p "$MMCV_PY"
    tar -xzf .gpu/mmcv-*.tar.gz -C "$MMCV_PY" --strip-components=1 --wildcards 'mmcv-*/mmcv/*'
    PYTHONPATH=$MMCV_PY OMP_NUM_THREADS=1 "$PY" tools/gpu_check.py backbone --out "$RESULTS" \
      --device cpu --archs t0 --batch-size 2 --shape 64 64 --iters 2 --warmup 1 2>&1 | tee -a "$LOG"
    OMP_NUM_THREADS=1 "$PY" tools/gpu_check.py models --out "$RESULTS" --device cpu \
      --precisions fp32 --shape 160 224 --iters 1 --warmup 0 2>&1 | tail -6 | tee -a "$LOG"
    PYTHONPATH=$MMCV_PY "$PY" -c 'import mmcv, os; assert not any(f.startswith("_ext") for f in os.listdir(os.path.dirname(mmcv.__file__))); print("backbone step ran on mmcv", mmcv.__version__, "without compiled ops")' | tee -a "$LOG"
    "$PY" -m pytest tests -m gpu -q -rs -p no:cacheprovider 2>&1 | tail -15 | tee -a "$LOG"
    "$PY" tools/gpu_check.py report --out "$RESULTS" | tee -a "$LOG"
    ;;
  *)
    echo "usage: bash scripts/gpu_check.sh start|finish|suite|dry-run" >&2
    exit 2
    ;;
esac

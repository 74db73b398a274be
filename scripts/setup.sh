#!/usr/bin/env bash
# Create .venv and install the pinned OpenMMLab stack, building mmcv 2.1.0 with
# its compiled ops. Idempotent: a second run checks the stamp and returns fast.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
STAMP=$VENV/.fasternet_dense_stamp
want=$(cat requirements.txt pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)

check_ops() {
  "$VENV/bin/python" - <<'PY'
import torch
from mmcv.ops import RoIAlign
x = torch.rand(1, 4, 8, 8)
rois = torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]])
out = RoIAlign((2, 2), 1.0, 0)(x, rois)
assert out.shape == (1, 4, 2, 2), out.shape
PY
}

if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]] && check_ops 2>/dev/null; then
  echo "setup: .venv is up to date"
  exit 0
fi

[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
# Build tools first: mmcv's setup imports torch and pkg_resources.
pip install -q "setuptools<82" wheel ninja
# Everything but mmcv first, at the pinned versions (mmcv's own loose
# requirements would otherwise pull a numpy 2 build of opencv).
grep -v -E '^mmcv==' requirements.txt > "$VENV/requirements-no-mmcv.txt"
pip install -q -r "$VENV/requirements-no-mmcv.txt"
if ! check_ops 2>/dev/null; then
  echo "setup: building mmcv 2.1.0 with compiled ops (about 20 minutes on 2 cores; pip caches the wheel)"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    pip install --no-deps --no-build-isolation "$(grep -E '^mmcv==' requirements.txt)"
fi
pip install -q --no-deps --no-build-isolation -e .
if ! check_ops; then
  echo "setup: ERROR mmcv was installed without its compiled ops (mmcv.ops.RoIAlign failed);" \
       "remove .venv and rerun with MMCV_WITH_OPS=1" >&2
  exit 1
fi
echo "$want" > "$STAMP"
echo "setup: done ($("$VENV/bin/python" -c 'import torch, mmcv, mmdet, mmseg; print("torch", torch.__version__, "mmcv", mmcv.__version__, "mmdet", mmdet.__version__, "mmseg", mmseg.__version__)'))"

#!/usr/bin/env bash
# Create .venv and install the pinned OpenMMLab stack on PyPI's default torch,
# building mmcv 2.1.0 with its compiled ops for exactly that torch.
# Idempotent: a second run checks the stamp and the ops and returns fast.
#
# The mmcv wheel is kept in $MMCV_WHEELHOUSE (default ~/.cache/fasternet-dense/mmcv)
# under a folder named after the torch version, its CUDA version, the Python
# version and whether CUDA ops were compiled. pip's own wheel cache keys a
# source build by the source archive only, so it could hand a wheel compiled
# for another torch to this one; the build below never reads or fills it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
STAMP=$VENV/.fasternet_dense_stamp
WHEELHOUSE=${MMCV_WHEELHOUSE:-$HOME/.cache/fasternet-dense/mmcv}
MMCV_REQ=$(grep -E '^mmcv==' requirements.txt)

# What mmcv's compiled ops must match: torch build, Python, CPU or CUDA ops.
build_key() {
  "$VENV/bin/python" - <<'PY'
import os, sys, torch
cuda = os.environ.get('FORCE_CUDA') == '1' or torch.cuda.is_available()
ops = 'cuda' + os.environ.get('TORCH_CUDA_ARCH_LIST', 'auto').replace(' ', '').replace(';', '_') if cuda else 'cpu'
print(f'torch{torch.__version__}-cu{torch.version.cuda or "none"}-py{sys.version_info[0]}{sys.version_info[1]}-{ops}')
PY
}

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

want=$(cat requirements.txt pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [[ -f $STAMP && $(head -1 "$STAMP") == "$want" && $(sed -n 2p "$STAMP") == "$(build_key 2>/dev/null)" ]] \
    && check_ops 2>/dev/null; then
  echo "setup: .venv is up to date"
  exit 0
fi

[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
# Build tools first: mmcv's setup imports torch and pkg_resources.
pip install -q "setuptools<82" wheel ninja
# Everything but mmcv, at the pinned versions (mmcv's own loose requirements
# would otherwise pull a numpy 2 build of opencv).
grep -v -E '^mmcv==' requirements.txt > "$VENV/requirements-no-mmcv.txt"
pip install -q -r "$VENV/requirements-no-mmcv.txt"

key=$(build_key)
wheels=$WHEELHOUSE/$key
if ! compgen -G "$wheels/mmcv-*.whl" > /dev/null; then
  echo "setup: building $MMCV_REQ with compiled ops for $key (once per torch build)"
  mkdir -p "$WHEELHOUSE"
  tmp=$(mktemp -d "$WHEELHOUSE/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT   # a failed or interrupted build leaves nothing behind
  # Two things make the compile several times faster without changing the
  # code compiled: Python's own compile flags with debug information off
  # (-g0; the ops' objects are 100 times smaller), and scripts/pch-cxx,
  # which precompiles the torch headers that most op sources start with.
  cflags=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "")')
  real_cxx=${CXX:-c++}
  CFLAGS="$cflags -g0" CXX="$ROOT/scripts/pch-cxx" PCH_REAL_CXX=$real_cxx PCH_DIR="$tmp/pch" \
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    pip wheel --no-cache-dir --no-deps --no-build-isolation -w "$tmp" "$MMCV_REQ"
  rm -rf "$tmp/pch"
  rm -rf "$wheels"
  mv "$tmp" "$wheels"   # whole folder at once: a killed build leaves no half wheel
fi
installed=$(sed -n 2p "$STAMP" 2>/dev/null || true)
if [[ $installed != "$key" ]] || ! check_ops 2>/dev/null; then
  pip install -q --no-deps --no-cache-dir --force-reinstall "$wheels"/mmcv-*.whl
fi
# The checkout itself goes on the path through a .pth file rather than
# `pip install -e .`: mmengine finds the Python-style configs that users inherit
# (`from fasternet_dense.configs.<name> import *`) under the installed
# distribution's location, which for an editable install is site-packages, not
# the checkout. A plain `pip install .` elsewhere carries configs/ in the wheel.
pip uninstall -q -y fasternet-dense 2>/dev/null || true
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ROOT" > "$site/fasternet_dense_checkout.pth"
if ! check_ops; then
  echo "setup: ERROR mmcv's compiled ops do not load (mmcv.ops.RoIAlign failed) for $key;" \
       "remove $wheels and .venv, then rerun" >&2
  exit 1
fi
printf '%s\n%s\n' "$want" "$key" > "$STAMP"
echo "setup: done ($("$VENV/bin/python" -c 'import torch, torchvision, mmcv, mmdet, mmseg, mmpretrain, timm; print("torch", torch.__version__, "torchvision", torchvision.__version__, "mmcv", mmcv.__version__, "mmdet", mmdet.__version__, "mmseg", mmseg.__version__, "mmpretrain", mmpretrain.__version__, "timm", timm.__version__)'))"

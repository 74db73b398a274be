#!/usr/bin/env bash
# Prepare .gpu/ for scripts/gpu_check.sh on a GPU machine without network:
# the wheels of the stack's parts that such a machine lacks (the OpenMMLab
# packages and their small dependencies, for CPython 3.12 on x86-64 Linux)
# and mmcv 2.1.0's source archive, which gpu_check.sh compiles there with
# CUDA ops. The GPU machine brings its own torch, torchvision, timm, numpy,
# opencv, scipy and matplotlib.
#
# Versions are the ones pinned in requirements.txt, and for the rest the ones
# installed in .venv (run scripts/setup.sh first), so both machines run the
# same OpenMMLab code. Usage: bash scripts/gpu_wheels.sh [PYTHON_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${1:-3.12}
DEST=.gpu
LIMIT_MB=32   # well under the 64 MiB a device call carries
VENV_PY=.venv/bin/python
[[ -x $VENV_PY ]] || { echo "gpu_wheels: .venv is missing; run bash scripts/setup.sh first" >&2; exit 2; }

# Distributions a GPU image with torch lacks: the OpenMMLab packages, then
# what they need beyond torch, numpy, scipy, matplotlib, opencv, rich, pyyaml,
# six, tqdm, einops, packaging, regex, click and markdown.
NAMES=(mmengine mmdet mmsegmentation mmpretrain pycocotools addict termcolor yapf platformdirs
       shapely terminaltables prettytable wcwidth importlib-metadata mat4py modelindex
       model-index ordered-set ftfy orjson)

version_of() {
  "$VENV_PY" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "$1"
}

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp/wheels"
specs=()
for name in "${NAMES[@]}"; do
  specs+=("$name==$(version_of "$name")")
done
"$VENV_PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST.tmp/wheels" "${specs[@]}" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# mmcv's source archive: its metadata step imports torch, so no build isolation.
mmcv=$(grep -E '^mmcv==' requirements.txt)
"$VENV_PY" -m pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$DEST.tmp" \
  "$mmcv" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
printf '%s\n' "${specs[@]}" "$mmcv" > "$DEST.tmp/manifest.txt"
size=$(du -sm "$DEST.tmp" | cut -f1)
if (( size > LIMIT_MB )); then
  echo "gpu_wheels: $DEST holds $size MiB, over $LIMIT_MB MiB; drop what the GPU image has" >&2
  exit 1
fi
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "gpu_wheels: $DEST ready ($size MiB, $(ls "$DEST/wheels" | wc -l) wheels + $(basename "$DEST"/mmcv-*.tar.gz)) for CPython $PYVER"

#!/usr/bin/env bash
# The main job from a fresh clone: set up .venv, make the toy data, train and
# evaluate on CPU, write work_dirs/demo_<task>/predictions.png.
# `bash scripts/demo.sh --task det` runs detection only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python tools/demo.py "$@"

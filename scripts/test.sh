#!/usr/bin/env bash
# Set up .venv if needed, then run the test suite on CPU.
# Without arguments: every test but the end-to-end runs marked `slow` (what CI
# runs). `--all` adds them; other arguments go to pytest, e.g.
# `bash scripts/test.sh -m slow` (only those) or `-k resume` (a selection
# without -m also leaves the slow tests out).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
select=(-m "not slow")
if [[ ${1:-} == --all ]]; then
  shift
  select=()
fi
for arg in "$@"; do
  if [[ $arg == -m* ]]; then select=(); fi
done
exec .venv/bin/python -m pytest tests -q -rs --durations=15 "${select[@]}" "$@"

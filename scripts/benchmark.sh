#!/usr/bin/env bash
# Set up .venv and run the end-to-end benchmark comparison (the main job).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh "test,uvloop,plot"
.venv/bin/python -m benchmarks "$@"

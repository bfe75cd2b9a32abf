#!/usr/bin/env bash
# Create (or refresh) a virtual environment and install tcpframe into it,
# built from this checkout, with the extras named in $1 (e.g. "test,uvloop").
# PYTHON picks the interpreter (default python3) and VENV the folder
# (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet ".[${extras}]"

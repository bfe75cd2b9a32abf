#!/usr/bin/env bash
# Create (or refresh) .venv and install tcpframe into it, built from this
# checkout, with the extras named in $1 (e.g. "test,uvloop").
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet ".[${extras}]"

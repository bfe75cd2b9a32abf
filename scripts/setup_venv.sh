#!/usr/bin/env bash
# Create (or refresh) a virtual environment and install tcpframe into it,
# built from this checkout, with the extras named in $1 (default "test").
#
#   PYTHON   the interpreter to create it with (default: python3)
#   VENV     where it goes, relative to the checkout (default: .venv)
#
#   bash scripts/setup_venv.sh "test,uvloop"
#   PYTHON=/path/to/python3.12 VENV=.venv-3.12 bash scripts/setup_venv.sh "test,uvloop"
#
# It says what it is doing at each step; pip itself runs quietly.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"

say() { printf 'setup_venv: %s\n' "$*"; }

source scripts/pip_install.sh

start=$SECONDS
version=$("$python" -c 'import platform; print(platform.python_version())')
say "creating $venv with Python $version ($(command -v "$python"))"
"$python" -m venv "$venv"

say "updating pip in $venv"
pip_install "$venv/bin/python" --upgrade pip

say "building tcpframe's Cython kernels and installing tcpframe[$extras] with its dependencies (about 20 s)"
pip_install "$venv/bin/python" ".[$extras]"

# The installed package, not the checkout's src/, is what the venv imports.
summary=$(cd "$venv" && bin/python -c 'import tcpframe
state = "loaded" if tcpframe.ACCELERATED else "NOT loaded"
print(f"tcpframe {tcpframe.__version__}, compiled kernels {state}")')
say "done in $((SECONDS - start)) s: $summary"

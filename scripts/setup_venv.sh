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

pip_log=$(mktemp "${TMPDIR:-/tmp}/tcpframe-setup-venv.XXXXXX")
trap 'rm -f "$pip_log"' EXIT

# Run pip install quietly in the venv, passing on what it writes to stderr
# except one message: where the user's pip configuration lists local index
# or find-links folders that lack a project, pip warns "Location '...' is
# ignored: it is neither a file nor a directory" for each project it looks
# up. That is about the machine's configuration, not about tcpframe, and
# ignoring the configuration (pip --isolated) would also drop the user's
# proxies and indexes; every other warning and error is kept.
pip_install() {
    local status=0
    "$venv/bin/python" -m pip install --quiet "$@" 2>"$pip_log" || status=$?
    grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$" "$pip_log" >&2 || true
    return "$status"
}

start=$SECONDS
version=$("$python" -c 'import platform; print(platform.python_version())')
say "creating $venv with Python $version ($(command -v "$python"))"
"$python" -m venv "$venv"

say "updating pip in $venv"
pip_install --upgrade pip

say "building tcpframe's Cython kernels and installing tcpframe[$extras] with its dependencies (about 20 s)"
pip_install ".[$extras]"

# The installed package, not the checkout's src/, is what the venv imports.
summary=$(cd "$venv" && bin/python -c 'import tcpframe
state = "loaded" if tcpframe.ACCELERATED else "NOT loaded"
print(f"tcpframe {tcpframe.__version__}, compiled kernels {state}")')
say "done in $((SECONDS - start)) s: $summary"

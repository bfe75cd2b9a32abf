#!/usr/bin/env bash
# Run the whole test suite on every supported CPython (3.11, 3.12, 3.13)
# that this machine has, each in its own venv (.venv-3.11, ...), twice per
# interpreter: with the compiled kernels (which must load) and with the
# pure-Python twins. Extra arguments go to pytest.
#
# TCPFRAME_PYTHONS="3.12" (space-separated) limits the run to those
# versions. A supported version that is missing is reported loudly and
# skipped; with none found at all, the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
versions="${TCPFRAME_PYTHONS:-3.11 3.12 3.13}"
missing=()
tested=()
for version in $versions; do
    if ! python=$(bash scripts/find_python.sh "$version"); then
        missing+=("$version")
        echo "!!! CPython $version not found (neither python$version nor a pyenv $version.*): NOT TESTED !!!" >&2
        continue
    fi
    venv=".venv-$version"
    echo "=== CPython $version ($python): building tcpframe into $venv ==="
    PYTHON="$python" VENV="$venv" bash scripts/setup_venv.sh "test,uvloop"
    py="$venv/bin/python"
    # pytest runs from the repo root, where the src layout keeps the source
    # tree off sys.path: `import tcpframe` finds the installed, compiled
    # package.
    $py -c "import tcpframe, sys; sys.exit(0 if tcpframe.ACCELERATED else 'compiled kernels did not load')"
    echo "=== CPython $version: compiled kernels ==="
    TCPFRAME_PURE_PYTHON=0 $py -m pytest -W error::ResourceWarning -q "$@"
    echo "=== CPython $version: pure-Python twins (TCPFRAME_PURE_PYTHON=1) ==="
    TCPFRAME_PURE_PYTHON=1 $py -m pytest -W error::ResourceWarning -q "$@"
    tested+=("$version")
done
echo "=== tested on CPython ${tested[*]:-none}${missing:+; MISSING: ${missing[*]}} ==="
if [ ${#tested[@]} -eq 0 ]; then
    echo "no supported CPython found" >&2
    exit 1
fi

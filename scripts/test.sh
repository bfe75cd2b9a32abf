#!/usr/bin/env bash
# Set up .venv and run the whole test suite twice: with the compiled
# kernels (which must load) and with the pure-Python twins.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh "test,uvloop"
py=.venv/bin/python
# Run from the tests directory so `import tcpframe` finds the installed,
# compiled package rather than the source tree.
$py -c "import tcpframe, sys; sys.exit(0 if tcpframe.ACCELERATED else 'compiled kernels did not load')"
echo "=== compiled kernels ==="
TCPFRAME_PURE_PYTHON=0 $py -m pytest -W error::ResourceWarning -q "$@"
echo "=== pure-Python twins (TCPFRAME_PURE_PYTHON=1) ==="
TCPFRAME_PURE_PYTHON=1 $py -m pytest -W error::ResourceWarning -q "$@"

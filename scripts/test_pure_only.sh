#!/usr/bin/env bash
# Prove that tcpframe installs and passes its whole test suite without a C
# compiler: install it with no extension modules (TCPFRAME_NO_EXTENSIONS=1,
# with CC and CXX pointing at `false`, so any attempt to compile fails the
# build) into its own venv (.venv-pure), check that no compiled kernel is
# installed, then run the suite with TCPFRAME_PURE_PYTHON=1. The tests that
# compare compiled kernels with their twins are not collected there (the
# run says why). Extra arguments go to pytest.
#
# PYTHON picks the interpreter (default python3), VENV the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv-pure}"
echo "=== installing tcpframe with no extension modules into $venv ==="
TCPFRAME_NO_EXTENSIONS=1 CC=false CXX=false VENV="$venv" bash scripts/setup_venv.sh "test,uvloop"
py="$venv/bin/python"
$py - <<'PYTHON'
import pathlib
import sys

import tcpframe
from tcpframe import _kernels

compiled = sorted(p.name for p in pathlib.Path(tcpframe.__file__).parent.rglob("*") if p.suffix in (".so", ".pyd"))
if compiled:
    sys.exit(f"extension modules were installed: {', '.join(compiled)}")
try:
    _kernels.load_compiled()
except ImportError as error:
    print(f"no compiled kernels, as intended ({error})")
else:
    sys.exit("the compiled kernels import")
if tcpframe.ACCELERATED:
    sys.exit("tcpframe.ACCELERATED is true")
PYTHON
echo "=== pure-Python twins only (TCPFRAME_PURE_PYTHON=1) ==="
TCPFRAME_PURE_PYTHON=1 $py -m pytest -W error::ResourceWarning -q "$@"

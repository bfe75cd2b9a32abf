"""Test configuration shared by the whole suite.

The suite runs twice: once with the compiled kernels and once with
``TCPFRAME_PURE_PYTHON=1``. A compiled run whose extensions did not load
must fail, not quietly test the twins.
"""

import pytest

import tcpframe
from tcpframe._kernels import FORCE_PURE_PYTHON


def pytest_configure(config: pytest.Config) -> None:
    if not FORCE_PURE_PYTHON and not tcpframe.ACCELERATED:
        raise pytest.UsageError(
            "tcpframe's compiled kernels did not load; build them with "
            "`pip install .` or run with TCPFRAME_PURE_PYTHON=1"
        )


def pytest_report_header(config: pytest.Config) -> str:
    mode = "compiled" if tcpframe.ACCELERATED else "pure-Python twins"
    return f"tcpframe kernels: {mode}"

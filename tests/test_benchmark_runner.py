"""Smoke test of the end-to-end benchmark runner (``python -m benchmarks``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_measures_every_implementation(tmp_path: Path) -> None:
    # Whatever this suite's kernel mode, the runner must run the compiled
    # worker (and fail if it cannot) next to the pure one and the baselines.
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--quick",
        "--repeat",
        "1",
        "--scenarios",
        "recv_structs_32,roundtrip",
        "--loops",
        "asyncio",
        "--output",
        str(tmp_path),
    ]
    try:
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the quick benchmark run took over 60 s: {error.stderr}")
    assert completed.returncode == 0, completed.stderr

    results = json.loads((tmp_path / "latest.json").read_text())
    rows = {(result["scenario"], result["implementation"]) for result in results["results"]}
    assert rows == {
        (scenario, implementation)
        for scenario in ("recv_structs_32", "roundtrip")
        for implementation in ("tcpframe", "tcpframe-pure", "streams")
    } | {("roundtrip", "raw")}
    for result in results["results"]:
        assert len(result["seconds"]) == 1 and not result["errors"], result
        assert result["messages_per_second"] > 0
    accelerated = {worker["implementation"]: worker["accelerated"] for worker in results["workers"]}
    assert accelerated == {"tcpframe": True, "tcpframe-pure": False, "streams": None, "raw": None}
    assert "### recv_structs_32" in completed.stdout
    assert (tmp_path / "latest.md").exists()

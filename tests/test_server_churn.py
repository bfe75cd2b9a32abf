"""Connection churn at a one-client server leaves the process as it was
(issue 19: the "Done when" churn bound).

Each case runs tests/server_churn.py in a process of its own (the kernels
are this run's: the child inherits ``TCPFRAME_PURE_PYTHON``), so that the
RSS measured is the server's: 500 stray connections with no client, then
1,500 (reset at once, junk then reset, junk then FIN) while a
`tcpframe.Client` stays connected, at `OneClientServer` and
`OneClientReadLoopServer`, with a plain and an awaiting connect_callback,
on asyncio's loop and uvloop.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import uvloop
except ImportError:  # uvloop is optional
    uvloop = None

WORKER = Path(__file__).with_name("server_churn.py")

# The bounds (KiB): peak RSS during the churn, and RSS after it.
PEAK_RSS_GROWTH_KIB = 32 * 1024
RSS_GROWTH_AFTER_KIB = 8 * 1024

LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(uvloop is None, reason="uvloop not installed"))]


def run_churn(server: str, callback: str, loop: str) -> dict:
    completed = subprocess.run(
        [sys.executable, str(WORKER), server, callback, loop],
        capture_output=True,
        text=True,
        timeout=300,  # a hung worker fails the test; the churn takes seconds
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.splitlines()[-1])


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("callback", ["plain", "awaiting"])
@pytest.mark.parametrize("server", ["OneClientServer", "OneClientReadLoopServer"])
def test_churn_leaves_no_exception_error_fd_or_task_and_bounded_memory(server: str, callback: str, loop: str) -> None:
    result = run_churn(server, callback, loop)
    print(json.dumps(result))  # the figures, with -s or on failure
    assert result["problems"] == []
    assert result["no_client_states_alternate"]
    assert result["client_states"] == [True]  # the client was never disturbed
    assert result["states_after_close"] == [False]
    assert result["fds_left"] == 0
    assert result["tasks_left"] == 0
    assert result["peak_rss_growth_kib"] <= PEAK_RSS_GROWTH_KIB
    assert result["rss_growth_after_kib"] <= RSS_GROWTH_AFTER_KIB

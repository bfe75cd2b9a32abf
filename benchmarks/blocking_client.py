"""The raw ceiling: a plain blocking-socket client, no event loop.

It runs the scenarios whose ceiling the targets refer to: the batch
scenarios, as a ``recv_into`` loop straight into the numpy array's memory,
the same 1 MiB array the asyncio clients fill per call (``batch_numpy``;
``push_records_32``, whose baseline reads such arrays and whose tcpframe
row gets views of the receive buffer).
"""

from __future__ import annotations

__all__ = ["RAW_SCENARIOS", "measure"]

import socket
import time
from collections.abc import Callable

import numpy as np

from .scenarios import (
    HOST,
    RECORD,
    RECORDS_PER_READ,
    RUN_TIMEOUT,
    TELEMETRY_RECORD,
    TELEMETRY_RECORDS_PER_READ,
    Scenario,
)


def _recv_exactly_into(sock: socket.socket, view: memoryview) -> None:
    received = 0
    while received < len(view):
        nbytes = sock.recv_into(view[received:])
        if not nbytes:
            raise ConnectionError("peer closed mid-read")
        received += nbytes


def _records(sock: socket.socket, count: int, dtype: np.dtype, per_read: int) -> bytes:
    records = np.empty(per_read, dtype)
    view = records.view(np.uint8).data
    for _ in range(count // per_read):
        _recv_exactly_into(sock, view)
    return records[-1:].tobytes()


def _batch_numpy(sock: socket.socket, count: int) -> bytes:
    return _records(sock, count, RECORD, RECORDS_PER_READ)


def _push_records_32(sock: socket.socket, count: int) -> bytes:
    return _records(sock, count, TELEMETRY_RECORD, TELEMETRY_RECORDS_PER_READ)


RAW_SCENARIOS: dict[str, Callable[[socket.socket, int], bytes]] = {
    "batch_numpy": _batch_numpy,
    "push_records_32": _push_records_32,
}


def measure(scenario: Scenario, count: int, port: int) -> float:
    """Run ``count`` messages of ``scenario`` over a blocking socket.

    Returns
    -------
    seconds : `float`
        From sending the control line to the end of the last message.

    Raises
    ------
    BenchmarkError
        If the run did not end with what the peer sent.
    KeyError
        If the raw client does not run ``scenario``.
    """
    run = RAW_SCENARIOS[scenario.name]
    with socket.create_connection((HOST, port), timeout=RUN_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        sock.sendall(scenario.control_line(count))
        result = run(sock, count)
        seconds = time.perf_counter() - start
    scenario.check_result(count, result)
    return seconds

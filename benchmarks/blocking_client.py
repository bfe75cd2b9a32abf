"""The raw ceiling: a plain blocking-socket client, no event loop.

It runs the scenarios whose ceiling the targets refer to: the batch
scenario (a ``recv_into`` loop straight into the numpy array's memory) and
the round trips (``sendall`` the command, ``recv`` the reply, with the same
plain-Python checksums as the baseline).
"""

from __future__ import annotations

__all__ = ["RAW_SCENARIOS", "measure"]

import socket
import time
from collections.abc import Callable

import numpy as np

from .scenarios import (
    COMMAND_TERMINATOR,
    COMMANDS,
    HOST,
    RECORD,
    RECORDS_PER_READ,
    RUN_TIMEOUT,
    BenchmarkError,
    Scenario,
    command_frame,
    reply_checksum_ok,
)


def _recv_exactly_into(sock: socket.socket, view: memoryview) -> None:
    received = 0
    while received < len(view):
        nbytes = sock.recv_into(view[received:])
        if not nbytes:
            raise ConnectionError("peer closed mid-read")
        received += nbytes


def _batch_numpy(sock: socket.socket, count: int) -> bytes:
    records = np.empty(RECORDS_PER_READ, RECORD)
    view = memoryview(records.view(np.uint8))
    for _ in range(count // RECORDS_PER_READ):
        _recv_exactly_into(sock, view)
    return records[-1:].tobytes()


def _roundtrip(sock: socket.socket, count: int) -> bytes:
    reply = b""
    for index in range(count):
        sock.sendall(command_frame(COMMANDS[index % len(COMMANDS)]))
        reply = sock.recv(256)
        while not reply.endswith(COMMAND_TERMINATOR):
            more = sock.recv(256)
            if not more:
                raise ConnectionError("peer closed mid-reply")
            reply += more
        if not reply_checksum_ok(reply):
            raise BenchmarkError(f"bad checksum in reply {reply!r}")
    return reply


RAW_SCENARIOS: dict[str, Callable[[socket.socket, int], bytes]] = {
    "roundtrip": _roundtrip,
    "batch_numpy": _batch_numpy,
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

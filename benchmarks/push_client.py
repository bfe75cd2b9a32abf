"""Scenario runs of tcpframe's push API (issue 22): callbacks instead of awaits.

Each run attaches a push to a connected `tcpframe.Client` and waits for it
to deliver the scenario's ``count`` messages; the callback does the same
user work as the matching await loop in `benchmarks.asyncio_client` (it
takes one value from each message), counts, and stops the push at the
last message. The clients without a push API (the streams baseline, the
floor) run their per-message await loop instead: `asyncio_client` picks.

Each run returns what it ended with (the last message) and the sum of the
values it took, for the runner to check, as the await loops do.
"""

from __future__ import annotations

__all__ = ["push_lines", "push_records_32", "push_structs_32"]

import typing

import numpy as np

from .scenarios import LINE_TERMINATOR, TELEMETRY_RECORD, BenchmarkError, Scenario, Telemetry32

Client = typing.Any  # tcpframe.Client


def _check_count(seen: int, count: int) -> None:
    """Check that the push, which has ended, delivered ``count`` messages."""
    if seen != count:
        raise BenchmarkError(f"the push ended after {seen} of {count} messages")


async def push_structs_32(client: Client, scenario: Scenario, count: int) -> tuple[bytes, float]:
    """``push_structs(Telemetry32, callback)``; the callback sums ``seq``."""
    total = 0
    seen = 0
    last = b""

    def on_struct(telemetry: Telemetry32) -> None:
        nonlocal total, seen, last
        total += telemetry.seq
        seen += 1
        if seen == count:
            last = bytes(telemetry)
            pushed.stop()

    pushed = client.push_structs(Telemetry32, on_struct)
    await pushed.done  # raises if the push failed or the stream was cut
    _check_count(seen, count)
    return last, total


async def push_lines(client: Client, scenario: Scenario, count: int) -> tuple[bytes, float]:
    """``push_lines(callback)`` (decoded `str` lines); the callback sums their lengths."""
    total = 0
    seen = 0
    last = ""

    def on_line(line: str) -> None:
        nonlocal total, seen, last
        total += len(line)
        seen += 1
        if seen == count:
            last = line
            pushed.stop()

    pushed = client.push_lines(on_line)
    await pushed.done  # raises if the push failed or the stream was cut
    _check_count(seen, count)
    return last.encode() + LINE_TERMINATOR, total


async def push_records_32(client: Client, scenario: Scenario, count: int) -> tuple[bytes, float]:
    """``push_records(TELEMETRY_RECORD, callback)``: one view per receive;
    the callback sums the view's ``seq`` field."""
    total = 0
    seen = 0
    last = b""

    def on_records(records: np.ndarray) -> None:
        nonlocal total, seen, last
        total += int(records["seq"].sum())
        seen += len(records)
        if seen >= count:
            last = records[-1:].tobytes()  # the view dies with the callback: copy
            pushed.stop()

    pushed = client.push_records(TELEMETRY_RECORD, on_records)
    await pushed.done  # raises if the push failed or the stream was cut
    _check_count(seen, count)
    return last, total

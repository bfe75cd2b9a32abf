"""The telemetry example (tcpframe.examples.telemetry), in process and as ``python -m``."""

import asyncio
import ctypes
import os
import re
import subprocess
import sys
import time
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe.examples import (
    TelemetryHeader,
    TelemetryPayload,
    TelemetryProducer,
    TelemetrySample,
    TelemetryStats,
    consume_telemetry,
)

pytestmark = pytest.mark.all_event_loops

REPORT = re.compile(r"\d+\.\d s: +(\d+\.\d) samples/s, latency mean +\d+\.\d+ ms max +\d+\.\d+ ms, (\d+) lost")


async def test_producer_streams_consecutive_header_payload_pairs(log: typing.Any) -> None:
    """Consecutive sequence numbers, each sample stamped when it was sent:
    after the producer started, not after it was received, in order."""
    started = time.time()
    async with TelemetryProducer(rate=5000, log=log) as producer:
        async with tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=producer.port, log=log) as client:
            header, payload = TelemetryHeader(), TelemetryPayload()
            previous = started
            for sequence in range(200):
                await asyncio.wait_for(client.read_into(header), STD_TIMEOUT)
                await asyncio.wait_for(client.read_into(payload), STD_TIMEOUT)
                assert header.sequence == sequence
                assert header.payload_size == ctypes.sizeof(TelemetryPayload)
                assert previous <= header.timestamp <= time.time()
                previous = header.timestamp


async def test_producer_is_never_ahead_of_its_rate(log: typing.Any) -> None:
    """Sample n is sent no sooner than n / rate seconds after the client
    connected (later, in a catch-up burst, if the machine stalls: how much
    later depends on the load, so it is not asserted)."""
    loop = asyncio.get_running_loop()
    rate = 2000
    before_connecting = loop.time()
    async with TelemetryProducer(rate=rate, log=log) as producer:
        async with tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=producer.port, log=log) as client:
            header, payload = TelemetryHeader(), TelemetryPayload()
            for sequence in range(1000):
                await asyncio.wait_for(client.read_into(header), STD_TIMEOUT)
                await asyncio.wait_for(client.read_into(payload), STD_TIMEOUT)
                assert header.sequence == sequence
            assert loop.time() - before_connecting >= 999 / rate - 0.001  # event loop clock resolution


async def test_consumer_reports_every_second_and_counts_every_sample(log: typing.Any) -> None:
    """A report at 1 s and at 2 s (none early; a loaded machine may add
    one more before the 2.5 s are up), then the summary; every sample
    from the first counted once, none lost."""
    lines: list[str] = []
    async with TelemetryProducer(rate=1000, log=log) as producer:
        stats = await consume_telemetry(tcpframe.LOCALHOST_IPV4, producer.port, 2.5, report=lines.append, log=log)
    assert len(lines) >= 3, lines
    assert lines[-1].startswith("total")
    reports = [REPORT.search(line) for line in lines]
    assert all(reports), lines
    # "%6.1f" rounds: a report due at 1 s may read 1.0 at 0.95 s.
    assert all(float(line.split()[0]) >= second - 0.05 for second, line in enumerate(lines[:-1], start=1)), lines
    assert stats.count > 0 and stats.lost == 0
    assert stats.count == stats.next_sequence
    assert 0 <= stats.latency_sum / stats.count <= stats.latency_max


async def test_consumer_stops_when_the_producer_closes(log: typing.Any) -> None:
    lines: list[str] = []
    producer = TelemetryProducer(rate=1000, log=log)
    await asyncio.wait_for(producer.start_task, STD_TIMEOUT)
    consumer = asyncio.create_task(
        consume_telemetry(tcpframe.LOCALHOST_IPV4, producer.port, 0, report=lines.append, log=log)
    )
    await asyncio.wait_for(producer.connected_task, STD_TIMEOUT)
    await producer.close()
    stats = await asyncio.wait_for(consumer, STD_TIMEOUT)
    assert stats.lost == 0 and stats.count == stats.next_sequence
    assert lines[-1].startswith("total")


async def test_push_consumer_counts_every_sample_in_order(log: typing.Any) -> None:
    """The push consumer: reports, then the summary; every sample from the
    first counted once and in order (none lost), as the await consumer."""
    lines: list[str] = []
    async with TelemetryProducer(rate=1000, log=log) as producer:
        stats = await consume_telemetry(
            tcpframe.LOCALHOST_IPV4, producer.port, 1.5, report=lines.append, log=log, push=True
        )
    assert len(lines) >= 2 and lines[-1].startswith("total"), lines
    assert all(REPORT.search(line) for line in lines), lines
    assert stats.count > 0 and stats.lost == 0
    assert stats.count == stats.next_sequence
    assert 0 <= stats.latency_sum / stats.count <= stats.latency_max


async def test_push_consumer_stops_when_the_producer_closes(log: typing.Any) -> None:
    lines: list[str] = []
    producer = TelemetryProducer(rate=1000, log=log)
    await asyncio.wait_for(producer.start_task, STD_TIMEOUT)
    consumer = asyncio.create_task(
        consume_telemetry(tcpframe.LOCALHOST_IPV4, producer.port, 0, report=lines.append, log=log, push=True)
    )
    await asyncio.wait_for(producer.connected_task, STD_TIMEOUT)
    # Some samples first, so that the push has delivered some when the
    # producer closes between two of them.
    while producer.stream_task.done():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    await producer.close()
    stats = await asyncio.wait_for(consumer, STD_TIMEOUT)
    assert stats.lost == 0 and stats.count == stats.next_sequence
    assert lines[-1].startswith("total")


def test_a_sample_is_a_header_then_its_payload() -> None:
    """What the push consumer is given is the pair the producer writes."""
    header = TelemetryHeader(sequence=7, timestamp=1.5, payload_size=ctypes.sizeof(TelemetryPayload))
    payload = TelemetryPayload(status=3)
    sample = TelemetrySample.from_buffer_copy(bytes(header) + bytes(payload))
    assert ctypes.sizeof(TelemetrySample) == ctypes.sizeof(header) + ctypes.sizeof(payload)
    assert (sample.header.sequence, sample.header.timestamp, sample.payload.status) == (7, 1.5, 3)


def test_stats_count_lost_samples_and_latency() -> None:
    stats = TelemetryStats(now=100.0)
    for sequence, sent, received in [(0, 1.0, 1.001), (1, 2.0, 2.003), (4, 3.0, 3.002)]:
        stats.add(TelemetryHeader(sequence=sequence, timestamp=sent), received)
    assert (stats.count, stats.lost, stats.next_sequence) == (3, 2, 5)
    assert stats.latency_max == pytest.approx(0.003)
    line = stats.interval_report(now=101.0)
    assert REPORT.search(line).groups() == ("3.0", "2")
    assert "mean   0.002 ms" not in line and "mean   2.000 ms" in line
    assert REPORT.search(stats.interval_report(now=102.0)).groups() == ("0.0", "0")
    assert stats.summary(now=103.0).startswith("total")


def test_producer_rejects_a_rate_that_is_not_positive(log: typing.Any) -> None:
    for rate in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rate"):
            TelemetryProducer(rate=rate, log=log, do_start=False)


def run_module(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run ``python -m tcpframe.examples.telemetry`` with this tcpframe."""
    package_parent = os.path.dirname(tcpframe.__path__[0])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_parent, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "tcpframe.examples.telemetry", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_python_m_runs_producer_and_consumer_and_prints_rate_and_latency() -> None:
    result = run_module("--rate", "1000", "--seconds", "1.5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # A report at 1 s (a loaded machine, slow to connect, may add one at
    # 2 s before the 1.5 s of reading are up), then the summary.
    assert len(lines) >= 2 and lines[-1].startswith("total"), result.stdout
    assert all(REPORT.search(line) for line in lines), result.stdout
    assert REPORT.search(lines[-1]).group(2) == "0"


def test_python_m_push_consumer_prints_rate_and_latency() -> None:
    result = run_module("--rate", "1000", "--seconds", "1.5", "--push")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) >= 2 and lines[-1].startswith("total"), result.stdout
    assert all(REPORT.search(line) for line in lines), result.stdout
    assert REPORT.search(lines[-1]).group(2) == "0"


def test_python_m_rejects_bad_arguments() -> None:
    assert run_module("--rate", "0").returncode == 2
    result = run_module("--mode", "consumer")
    assert result.returncode == 2 and "--port" in result.stderr

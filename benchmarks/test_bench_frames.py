"""Telemetry benchmarks: batch records over loopback, async iteration over frames.

``batch_numpy_256B``: 256-byte records streamed by the benchmark peer
(`benchmarks.peer`, a separate process) into a numpy structured array, 256
records per call, by `tcpframe.Client.read_many_into` (on asyncio's loop
and on uvloop) and by the raw ceiling, a blocking ``recv_into`` loop
straight into the array's memory (`benchmarks.blocking_client`). The
throughput at the median time is stored as ``extra_info["MB/s"]``; the
target is tcpframe at >= 50 % of raw.

``iterate_frames_64B``: ``async for`` over `FrameReader.iter_frames` when
64 MiB of length-prefixed 64-byte frames are already buffered (fed with
``feed_data`` before timing), with whichever kernels are active
(``TCPFRAME_PURE_PYTHON=1`` for the twins). ``kernel_frames_64B`` calls
the compiled kernel and its twin directly on the same bytes: the ceiling
of the iteration. Rates are stored as ``extra_info["frames/s"]``; the
target is >= 1M frames/s with the compiled kernels.

``kernel_checksummed_nmea``: the checksummed-frame kernel, compiled and
twin, over 16 MiB of buffered NMEA 0183 sentences.

Run with::

    PYTHONPATH=src python -m pytest benchmarks/test_bench_frames.py --benchmark-only
"""

import asyncio
import logging
from collections.abc import Iterator

import numpy as np
import pytest

import tcpframe
from tcpframe import LengthPrefix, _kernels

from . import blocking_client
from .peer import running_peer
from .scenarios import HOST, RECORD, RECORDS_PER_READ, SCENARIOS

try:
    import uvloop
except ImportError:  # uvloop is optional
    uvloop = None

BATCH = SCENARIOS["batch_numpy"]
# Records per round: 8192 reads of 256 records, 512 MiB.
BATCH_COUNT = 8192 * RECORDS_PER_READ
BATCH_BYTES = BATCH.stream_bytes(BATCH_COUNT)

FRAME_PREFIX = LengthPrefix()
FRAME = FRAME_PREFIX.encode(64) + bytes(range(64))
FRAME_COUNT = 64 * 2**20 // len(FRAME)
FRAME_STREAM = FRAME * FRAME_COUNT

SENTENCE = tcpframe.NMEA.encode(b"GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,")
SENTENCE_COUNT = 16 * 2**20 // len(SENTENCE)
SENTENCE_STREAM = SENTENCE * SENTENCE_COUNT

LOOPS = {"asyncio": asyncio.new_event_loop}
if uvloop is not None:
    LOOPS["uvloop"] = uvloop.new_event_loop


@pytest.fixture(scope="module")
def peer_port() -> Iterator[int]:
    with running_peer() as port:
        yield port


def record_mb_per_s(benchmark, nbytes: int) -> None:
    benchmark.extra_info["MB/s"] = nbytes / benchmark.stats.stats.median / 1e6


def record_frames_per_s(benchmark, count: int) -> None:
    benchmark.extra_info["frames/s"] = count / benchmark.stats.stats.median


async def receive_batches(port: int) -> bytes:
    """Receive `BATCH_COUNT` records with `tcpframe.Client.read_many_into`."""
    records = np.empty(RECORDS_PER_READ, RECORD)
    async with tcpframe.Client(HOST, port, logging.getLogger("benchmark")) as client:
        await client.write(BATCH.control_line(BATCH_COUNT))
        for _ in range(BATCH_COUNT // RECORDS_PER_READ):
            await client.read_many_into(records)
    return records[-1:].tobytes()


@pytest.mark.benchmark(group="batch_numpy_256B")
def test_batch_numpy_raw_recv_into(benchmark, peer_port: int) -> None:
    benchmark.pedantic(blocking_client.measure, (BATCH, BATCH_COUNT, peer_port), rounds=5, warmup_rounds=1)
    record_mb_per_s(benchmark, BATCH_BYTES)


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
@pytest.mark.benchmark(group="batch_numpy_256B")
def test_batch_numpy_tcpframe_read_many_into(benchmark, peer_port: int, loop_name: str) -> None:
    loop = LOOPS[loop_name]()
    try:
        result = benchmark.pedantic(
            lambda: loop.run_until_complete(receive_batches(peer_port)), rounds=5, warmup_rounds=1
        )
    finally:
        loop.close()
    BATCH.check_result(BATCH_COUNT, result)
    benchmark.extra_info["accelerated"] = tcpframe.ACCELERATED
    record_mb_per_s(benchmark, BATCH_BYTES)


async def iterate_frames(reader: tcpframe.FrameReader) -> int:
    count = 0
    async for _ in reader.iter_frames(FRAME_PREFIX):
        count += 1
    return count


def buffered_reader() -> tuple[tuple, dict]:
    reader = tcpframe.FrameReader()
    reader.feed_data(FRAME_STREAM)
    reader.feed_eof()
    return (reader,), {}


@pytest.mark.benchmark(group="iterate_frames_64B")
def test_async_for_over_buffered_length_prefixed_frames(benchmark) -> None:
    loop = asyncio.new_event_loop()
    try:
        count = benchmark.pedantic(
            lambda reader: loop.run_until_complete(iterate_frames(reader)), setup=buffered_reader, rounds=5
        )
    finally:
        loop.close()
    assert count == FRAME_COUNT
    benchmark.extra_info["accelerated"] = tcpframe.ACCELERATED
    record_frames_per_s(benchmark, FRAME_COUNT)


COMPILED = _kernels.load_compiled()  # these benchmarks compare it with the twins
KERNELS = [
    pytest.param((COMPILED.frames, COMPILED.receive_buffer), id="compiled"),
    pytest.param((_kernels.PURE.frames, _kernels.PURE.receive_buffer), id="pure"),
]


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.benchmark(group="kernel_frames_64B")
def test_take_length_prefixed_over_buffered_frames(benchmark, kernels: tuple) -> None:
    frames, receive_buffer = kernels

    def fed_buffer() -> tuple[tuple, dict]:
        buffer = receive_buffer.ReceiveBuffer()
        buffer.feed(FRAME_STREAM)
        return (buffer,), {}

    def take_all(buffer: object) -> int:
        take = frames.take_length_prefixed
        count = 0
        while take(buffer, FRAME_PREFIX) is not None:
            count += 1
        return count

    assert benchmark.pedantic(take_all, setup=fed_buffer, rounds=5) == FRAME_COUNT
    record_frames_per_s(benchmark, FRAME_COUNT)


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.benchmark(group="kernel_checksummed_nmea")
def test_take_checksummed_over_buffered_nmea_sentences(benchmark, kernels: tuple) -> None:
    frames, receive_buffer = kernels

    def fed_buffer() -> tuple[tuple, dict]:
        buffer = receive_buffer.ReceiveBuffer()
        buffer.feed(SENTENCE_STREAM)
        return (buffer,), {}

    def take_all(buffer: object) -> int:
        take = frames.take_checksummed
        framing = tcpframe.NMEA
        count = 0
        while take(buffer, framing, 1000) is not None:
            count += 1
        return count

    assert benchmark.pedantic(take_all, setup=fed_buffer, rounds=5) == SENTENCE_COUNT
    record_frames_per_s(benchmark, SENTENCE_COUNT)

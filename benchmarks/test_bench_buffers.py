"""Microbenchmarks of the receive buffer and struct kernels: compiled against twin.

Each benchmark group holds one scenario at one size, so the compiled kernel
and its pure-Python twin appear side by side. The throughput at the median
time is stored as ``extra_info["GB/s"]`` (``extra_info["ns/op"]`` for the
struct pair).

Run with::

    PYTHONPATH=src python -m pytest benchmarks/test_bench_buffers.py --benchmark-only
"""

import ctypes

import numpy as np
import pytest

from tcpframe import _kernels

COMPILED = _kernels.load_compiled()  # these benchmarks compare it with the twins
PURE = _kernels.PURE

SIZES = {"1KiB": 1024, "1MiB": 1024 * 1024}
LINE = b"x" * 38 + b"\r\n"
LIMIT = 2**16
STRUCT_SIZE = 32

RECEIVE_BUFFERS = [
    pytest.param(COMPILED.receive_buffer, id="compiled"),
    pytest.param(PURE.receive_buffer, id="pure"),
]
STRUCTS = [
    pytest.param(COMPILED.structs, id="compiled"),
    pytest.param(PURE.structs, id="pure"),
]


class Header(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("sync", ctypes.c_uint8),
        ("frame_id", ctypes.c_uint16),
        ("sequence", ctypes.c_uint32),
        ("timestamp", ctypes.c_double),
        ("length", ctypes.c_uint8),
    ]


class Telemetry(ctypes.Structure):
    _fields_ = [("values", ctypes.c_double * 30)]


class Sample(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint64), ("values", ctypes.c_double * 3)]


def record_throughput(benchmark, nbytes: int) -> None:
    benchmark.extra_info["GB/s"] = nbytes / benchmark.stats.stats.median / 1e9


@pytest.mark.parametrize("size_label", list(SIZES))
@pytest.mark.parametrize("module", RECEIVE_BUFFERS)
def test_take_until_lines(benchmark, module, size_label: str) -> None:
    """Feed ``size`` bytes of 40-byte CRLF lines, then take every line."""
    data = LINE * (SIZES[size_label] // len(LINE))

    def take_all_lines() -> int:
        buffer = module.ReceiveBuffer()
        buffer.feed(data)
        take_until = buffer.take_until
        count = 0
        while take_until(b"\r\n", LIMIT) is not None:
            count += 1
        return count

    benchmark.group = f"take_until 40-byte lines {size_label}"
    assert benchmark(take_all_lines) == len(data) // len(LINE)
    record_throughput(benchmark, len(data))


@pytest.mark.parametrize("separator", [b"\n", b"\r\n", b"XYZZY"])
@pytest.mark.parametrize("size_label", list(SIZES))
@pytest.mark.parametrize("module", RECEIVE_BUFFERS)
def test_find_without_separator(benchmark, module, size_label: str, separator: bytes) -> None:
    """Scan ``size`` bytes that hold no separator, from a fresh buffer each round."""
    data = np.random.default_rng(seed=1).integers(32, 127, SIZES[size_label], np.uint8).tobytes()
    data = data.replace(separator[-1:], b"_")

    def fresh_buffer() -> tuple[tuple, dict]:
        buffer = module.ReceiveBuffer()
        buffer.feed(data)
        return (buffer, separator), {}

    benchmark.group = f"find {separator!r} absent {size_label}"
    result = benchmark.pedantic(
        lambda buffer, separator: buffer.find(separator),
        setup=fresh_buffer,
        rounds=200 if size_label == "1MiB" else 2000,
    )
    assert result == -1
    record_throughput(benchmark, len(data))


@pytest.mark.parametrize("size_label", list(SIZES))
@pytest.mark.parametrize("module", RECEIVE_BUFFERS)
def test_copy_into_structs(benchmark, module, size_label: str) -> None:
    """Feed ``size`` bytes, then copy them out into one 32-byte struct at a time."""
    assert ctypes.sizeof(Sample) == STRUCT_SIZE
    data = np.random.default_rng(seed=2).bytes(SIZES[size_label])
    sample = Sample()

    def copy_all_structs() -> int:
        buffer = module.ReceiveBuffer()
        buffer.feed(data)
        copy_into = buffer.copy_into
        count = 0
        while copy_into(sample):
            count += 1
        return count

    benchmark.group = f"copy_into 32-byte structs {size_label}"
    assert benchmark(copy_all_structs) == len(data) // STRUCT_SIZE
    record_throughput(benchmark, len(data))


@pytest.mark.parametrize("module", STRUCTS)
def test_join_structs_pair(benchmark, module) -> None:
    """Join a 16-byte header and a 240-byte telemetry struct into one bytes."""
    pair = (Header(0xA5, 1, 2, 3.0, 240), Telemetry())
    assert ctypes.sizeof(pair[0]) + ctypes.sizeof(pair[1]) == 256
    benchmark.group = "join_structs 16+240-byte pair"
    assert len(benchmark(module.join_structs, pair)) == 256
    benchmark.extra_info["ns/op"] = benchmark.stats.stats.median * 1e9


@pytest.mark.parametrize("module", STRUCTS)
def test_append_structs_pair(benchmark, module) -> None:
    """Append a 16-byte header and a 240-byte telemetry struct to a send buffer."""
    pair = (Header(0xA5, 1, 2, 3.0, 240), Telemetry())
    pending = bytearray()

    def append_pair() -> None:
        # As a writer does: the pending bytes are sent, then refilled.
        del pending[:]
        module.append_structs(pending, pair)

    benchmark.group = "append_structs 16+240-byte pair"
    benchmark(append_pair)
    assert len(pending) == 256
    benchmark.extra_info["ns/op"] = benchmark.stats.stats.median * 1e9

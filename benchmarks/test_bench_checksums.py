"""Microbenchmarks of the checksum kernels: compiled against pure-Python twin.

Each benchmark group holds one kernel at one input size, so the compiled
kernel, its twin (and for CRC-32, `zlib.crc32` itself) appear side by side.
The throughput at the median time is stored as ``extra_info["MB/s"]``.

Run with::

    PYTHONPATH=src python -m pytest benchmarks/test_bench_checksums.py --benchmark-only
"""

import zlib

import numpy as np
import pytest

from tcpframe import _kernels

compiled = _kernels.load_compiled().checksums  # these benchmarks compare it with the twin
pure = _kernels.PURE.checksums

KERNELS = ["sum8", "xor8", "crc16_modbus", "crc16_ccitt", "crc16_xmodem", "crc32"]
SIZES = {"1KiB": 1024, "1MiB": 1024 * 1024}

CONTENDERS = [
    (name, implementation, getattr(module, name))
    for name in KERNELS
    for implementation, module in (("compiled", compiled), ("pure", pure))
] + [("crc32", "zlib", zlib.crc32)]


@pytest.mark.parametrize("size_label", list(SIZES))
@pytest.mark.parametrize(
    ("name", "implementation", "function"),
    CONTENDERS,
    ids=[f"{name}-{implementation}" for name, implementation, _ in CONTENDERS],
)
def test_checksum_throughput(
    benchmark, name: str, implementation: str, function, size_label: str
) -> None:
    size = SIZES[size_label]
    data = np.random.default_rng(seed=1).bytes(size)
    # The first call also builds any lazy table, outside the timing.
    assert function(data) == getattr(compiled, name)(data)
    benchmark.group = f"{name} {size_label}"
    # Enough calls per timed round that the timer's own cost does not show.
    iterations = max(1, 100_000 // size)
    benchmark.pedantic(function, args=(data,), rounds=200, iterations=iterations)
    benchmark.extra_info["MB/s"] = size / benchmark.stats.stats.median / 1e6

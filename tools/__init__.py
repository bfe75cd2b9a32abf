"""Hardening tools: long-running fuzzers and soak runs (not benchmarks).

Run them from the repository root with tcpframe installed:

``python -m tools.fuzz_kernels --seconds N``
    The compiled kernels against their pure-Python twins on random and
    mutated inputs (`tools.fuzz_kernels`).
``python -m tools.soak``
    Many connect/disconnect cycles, then a fast sender against a slow
    reader, counting leaks (`tools.soak`).

The test suite imports the fuzz targets and runs them briefly.
"""

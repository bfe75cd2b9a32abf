"""Record and replay throughput: a stream through the recording proxy, and
replayed from the file, against a plain loopback copy.

Every row moves the same stream, the ``batch_numpy`` scenario's 256-byte
records, from the benchmark peer (``benchmarks/peer.py``, its own process)
to the raw blocking-socket client of ``benchmarks/blocking_client.py``
(this process), which receives it with ``recv_into`` calls into a 1 MiB
array (4096 records) and checks the last record:

- **direct**: client and peer connected directly: the loopback ceiling.
- **record**: through ``python -m tcpframe.record --listen 0 --to PEER``
  (a third process), which relays and records every chunk, to a file in a
  temporary folder (``record to file``) or to ``/dev/null`` (``record, no
  disk``: the proxy and the format without the disk).
- **replay**: from ``python -m tcpframe.replay FILE --speed inf`` replaying
  that file, timed (as fast as possible), or ``--paced --check`` (waits for
  the client's control line, checking it, as a mock in a test would).

The tcpframe rows run with the compiled kernels and with their twins
(``TCPFRAME_PURE_PYTHON=1``). Medians of ``--repeat`` runs, interleaved.

Run ``python -m benchmarks.record_replay [--megabytes N] [--repeat N]``
(``PYTHONPATH=src`` in a source checkout).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from . import PROJECT_ROOT
from .blocking_client import measure
from .peer import running_peer
from .scenarios import HOST, RECORDS_PER_READ, SCENARIOS

SCENARIO = SCENARIOS["batch_numpy"]
KERNELS = {"compiled": "0", "twins": "1"}
# How long a tool may take to start and print its port (s).
START_TIMEOUT = 60


@contextlib.contextmanager
def running_tool(args: list[str], pure: str) -> Iterator[int]:
    """Run ``python -m tcpframe.<tool> ...``; yield the port of its first line.

    Waits for it to exit at the end (each tool serves one session here).
    """
    env = dict(os.environ, TCPFRAME_PURE_PYTHON=pure)
    process = subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(rf"{re.escape(HOST)}:(\d+)", line)
        if match is None:
            raise RuntimeError(f"{args[0]} failed to start (said {line!r})")
        yield int(match[1])
        process.stdout.read()
        if process.wait(timeout=START_TIMEOUT) != 0:
            raise RuntimeError(f"{args[0]} exited with status {process.returncode}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def main(argv: list[str] | None = None) -> None:
    """Measure every row and print a table of MB/s."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.record_replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--megabytes", type=int, default=256, help="size of the stream (default 256 MB)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N", help="runs per row (default 3)")
    parsed = parser.parse_args(argv)
    per_read = RECORDS_PER_READ * SCENARIO.stream_bytes(1)
    count = max(1, parsed.megabytes * 10**6 // per_read) * RECORDS_PER_READ
    nbytes = SCENARIO.stream_bytes(count)
    samples: dict[str, list[float]] = {}

    with running_peer() as peer_port, tempfile.TemporaryDirectory() as folder:
        recording = Path(folder) / "stream.rec"

        def direct() -> float:
            return measure(SCENARIO, count, peer_port)

        def record(out: str, pure: str) -> Callable[[], float]:
            def run() -> float:
                args = ["tcpframe.record", "--listen", "0", "--to", f"{HOST}:{peer_port}", "--out", out]
                with running_tool([*args, "--progress", "0"], pure) as port:
                    return measure(SCENARIO, count, port)

            return run

        def replay(options: list[str], pure: str) -> Callable[[], float]:
            def run() -> float:
                args = ["tcpframe.replay", str(recording), "--port", "0", "--speed", "inf", "--once", *options]
                with running_tool(args, pure) as port:
                    return measure(SCENARIO, count, port)

            return run

        rows: dict[str, Callable[[], float]] = {"direct loopback copy": direct}
        for kernels, pure in KERNELS.items():
            rows[f"record to file, {kernels}"] = record(str(Path(folder) / "scratch.rec"), pure)
            rows[f"record, no disk, {kernels}"] = record(os.devnull, pure)
            rows[f"replay, timed, {kernels}"] = replay([], pure)
            rows[f"replay, paced + check, {kernels}"] = replay(["--paced", "--check"], pure)
        # The recording the replays read.
        record(str(recording), "0")()
        print(f"{nbytes / 1e6:.0f} MB per run, recording {recording.stat().st_size / 1e6:.0f} MB", file=sys.stderr)
        for repetition in range(parsed.repeat):
            for name, run in rows.items():
                seconds = run()
                samples.setdefault(name, []).append(nbytes / seconds / 1e6)
                print(f"  {repetition + 1}/{parsed.repeat} {name}: {nbytes / seconds / 1e6:.0f} MB/s", file=sys.stderr)

    ceiling = statistics.median(samples["direct loopback copy"])
    print("| row | MB/s | of direct |")
    print("| --- | ---: | ---: |")
    for name, rates in samples.items():
        rate = statistics.median(rates)
        print(f"| {name} | {rate:.0f} | {rate / ceiling:.0%} |")


if __name__ == "__main__":
    main()

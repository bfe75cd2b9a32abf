"""A benchmark worker: one implementation on one event loop, in its own process.

Usage::

    python -m benchmarks.worker IMPLEMENTATION [--loop asyncio|uvloop]
        [--port PORT] [--scenario NAME [--count N]]

``IMPLEMENTATION`` is ``tcpframe`` (the compiled kernels must load),
``tcpframe-pure`` (the caller sets ``TCPFRAME_PURE_PYTHON=1``), ``streams``
(the baseline, costing what lsst.ts.tcpip costs), ``floor`` (the same
loops over coroutines that return at once; with tcpframe's compiled
checksums) or ``raw`` (a blocking socket, no event loop).

Without ``--scenario`` the worker serves the runner: it prints one JSON
ready line, then answers each JSON request line on stdin,
``{"scenario": ..., "count": ..., "warmup": ...}``, with a warm-up run, the
measured run, and one JSON line: ``{"seconds": ...}`` or ``{"error": ...}``.

With ``--scenario`` it makes one measurement, prints its JSON line and
exits, which suits a profiler::

    python -m cProfile -s tottime -m benchmarks.worker tcpframe --scenario recv_lines

Without ``--port`` it starts its own peer.
"""

from __future__ import annotations

__all__ = ["IMPLEMENTATIONS", "LOOPS", "Worker", "WorkerError"]

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import json
import platform
import sys
import traceback
import typing
from collections.abc import Callable

from . import asyncio_client, blocking_client
from .peer import running_peer
from .scenarios import RUN_TIMEOUT, SCENARIOS, Scenario

IMPLEMENTATIONS = ("tcpframe", "tcpframe-pure", "streams", "floor", "raw")
LOOPS = ("asyncio", "uvloop")

# The "loop" of the raw client, which has none.
BLOCKING = "blocking"


class WorkerError(Exception):
    """The worker cannot run the implementation it was asked for."""


def _loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def _check_kernels(implementation: str) -> bool:
    """Check that tcpframe runs the kernels ``implementation`` names."""
    import tcpframe

    if implementation in ("tcpframe", "floor") and not tcpframe.ACCELERATED:
        raise WorkerError(
            "tcpframe's compiled kernels are not available (tcpframe.ACCELERATED is False): "
            "build them with `pip install .` or `python setup.py build_ext --inplace`, "
            "and leave TCPFRAME_PURE_PYTHON unset or 0"
        )
    if implementation == "tcpframe-pure" and tcpframe.ACCELERATED:
        raise WorkerError("tcpframe-pure needs TCPFRAME_PURE_PYTHON=1 in its environment")
    return tcpframe.ACCELERATED


class Worker:
    """Measure one implementation on one event loop.

    Parameters
    ----------
    implementation : `str`
        One of `IMPLEMENTATIONS`.
    loop : `str`
        One of `LOOPS`; ignored by ``raw``.

    Raises
    ------
    WorkerError
        If tcpframe's active kernels are not those ``implementation`` names.
    ImportError
        If ``loop`` is ``uvloop`` and uvloop is not installed.
    """

    def __init__(self, implementation: str, loop: str) -> None:
        self.implementation = implementation
        self.accelerated: bool | None = None
        self._runner: asyncio.Runner | None = None
        if implementation == "raw":
            self.loop = BLOCKING
            return
        self.loop = loop
        if implementation == "streams":
            self._flavour = asyncio_client.streams_flavour()
        else:
            self.accelerated = _check_kernels(implementation)
            self._flavour = (
                asyncio_client.floor_flavour() if implementation == "floor" else asyncio_client.tcpframe_flavour()
            )
        self._runner = asyncio.Runner(loop_factory=_loop_factory(loop))

    def describe(self) -> dict[str, typing.Any]:
        """Return what this worker runs, for the results file."""
        description = {
            "implementation": self.implementation,
            "loop": self.loop,
            "accelerated": self.accelerated,
            "python": platform.python_version(),
        }
        if self.loop == "uvloop":
            description["uvloop"] = importlib.metadata.version("uvloop")
        return description

    def measure(self, scenario: Scenario, count: int, port: int) -> float:
        """Run ``count`` messages of ``scenario``; return the seconds taken."""
        gc.collect()
        if self._runner is None:
            return blocking_client.measure(scenario, count, port)
        return self._runner.run(self._measure_with_timeout(scenario, count, port))

    def close(self) -> None:
        """Close the event loop."""
        if self._runner is not None:
            self._runner.close()

    async def _measure_with_timeout(self, scenario: Scenario, count: int, port: int) -> float:
        async with asyncio.timeout(RUN_TIMEOUT):
            return await asyncio_client.measure(self._flavour, scenario, count, port)


def serve(worker: Worker, port: int) -> None:
    """Answer the runner's requests on stdin until it closes it."""
    print(json.dumps({"ready": worker.describe()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        scenario = SCENARIOS[request["scenario"]]
        try:
            if request["warmup"]:
                worker.measure(scenario, request["warmup"], port)
            response: dict[str, typing.Any] = {"seconds": worker.measure(scenario, request["count"], port)}
        except Exception as error:
            traceback.print_exc()
            response = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(response), flush=True)


def measure_once(worker: Worker, scenario: Scenario, count: int, port: int) -> None:
    """Make one measurement and print its JSON line and a summary."""
    seconds = worker.measure(scenario, count, port)
    print(json.dumps({"seconds": seconds}))
    print(
        f"{worker.implementation}/{worker.loop} {scenario.name}: {count} messages in {seconds:.3f} s, "
        f"{count / seconds:,.0f} messages/s, {scenario.stream_bytes(count) / seconds / 1e6:.1f} MB/s",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> None:
    """Run the worker from the command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__.splitlines()[0])
    parser.add_argument("implementation", choices=IMPLEMENTATIONS)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--port", type=int, help="port of a running peer (default: start one)")
    parser.add_argument("--scenario", choices=list(SCENARIOS), help="make one measurement and exit")
    parser.add_argument("--count", type=int, help="messages in that measurement (default: the scenario's)")
    args = parser.parse_args(argv)
    try:
        worker = Worker(args.implementation, args.loop)
    except (WorkerError, ImportError) as error:
        sys.exit(f"benchmark worker {args.implementation}/{args.loop}: {error}")
    try:
        with contextlib.ExitStack() as stack:
            port = args.port if args.port is not None else stack.enter_context(running_peer())
            if args.scenario is None:
                serve(worker, port)
            else:
                scenario = SCENARIOS[args.scenario]
                measure_once(worker, scenario, scenario.round_count(args.count or scenario.count), port)
    finally:
        worker.close()


if __name__ == "__main__":
    main()

"""Run the comparison: one peer, one worker process per row, interleaved repetitions.

Every implementation-and-loop row has its own worker process (see
`benchmarks.worker`), started once and fed one request per measurement.
Repetitions are interleaved: repetition 1 of every scenario and row, then
repetition 2, and so on, so that all rows share the machine's noise.
"""

from __future__ import annotations

__all__ = ["Plan", "Row", "RunnerError", "run"]

import dataclasses
import json
import os
import subprocess
import sys
import time
import typing

from . import PROJECT_ROOT
from .peer import running_peer
from .scenarios import Scenario
from .worker import BLOCKING

# Full counts are divided by this in a --quick run.
QUICK_DIVISOR = 10

# A warm-up run has this fraction of a measurement's messages.
WARMUP_DIVISOR = 10


class RunnerError(Exception):
    """The benchmark cannot run, e.g. a worker failed to start."""


@dataclasses.dataclass(frozen=True)
class Row:
    """An implementation on an event loop: one row of each result table."""

    implementation: str
    loop: str

    def __str__(self) -> str:
        return f"{self.implementation}/{self.loop}"


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to measure.

    Parameters
    ----------
    scenarios : `list` [`Scenario`]
        Scenarios, in the order to run and report them.
    implementations : `list` [`str`]
        Implementations (see `benchmarks.worker.IMPLEMENTATIONS`).
    loops : `list` [`str`]
        Event loops for the asyncio implementations.
    repeat : `int`
        Measurements of each scenario and row.
    quick : `bool`
        Divide message counts by `QUICK_DIVISOR` (a smoke run).
    """

    scenarios: list[Scenario]
    implementations: list[str]
    loops: list[str]
    repeat: int
    quick: bool

    @property
    def rows(self) -> list[Row]:
        """Every row: each asyncio implementation on each loop, and raw."""
        return [
            Row(implementation, loop)
            for implementation in self.implementations
            for loop in ([BLOCKING] if implementation == "raw" else self.loops)
        ]

    def rows_for(self, scenario: Scenario) -> list[Row]:
        """Return the rows that run ``scenario``: floor or raw, by its ceiling."""
        skipped = "floor" if scenario.ceiling == "raw" else "raw"
        return [row for row in self.rows if row.implementation != skipped]

    def count(self, scenario: Scenario) -> int:
        """Return the messages in one measurement of ``scenario``."""
        return scenario.round_count(scenario.count // (QUICK_DIVISOR if self.quick else 1))

    def warmup(self, scenario: Scenario) -> int:
        """Return the messages in the warm-up before each measurement."""
        return scenario.round_count(self.count(scenario) // WARMUP_DIVISOR)


@dataclasses.dataclass
class Samples:
    """What a run measured.

    Attributes
    ----------
    seconds : `dict`
        Seconds of each measurement, by ``(scenario name, row)``.
    errors : `dict`
        Error message of each failed measurement, by ``(scenario name, row)``.
    workers : `dict`
        What each row's worker reported about itself, by row.
    elapsed : `float`
        Wall-clock seconds of the whole run.
    """

    seconds: dict[tuple[str, Row], list[float]] = dataclasses.field(default_factory=dict)
    errors: dict[tuple[str, Row], list[str]] = dataclasses.field(default_factory=dict)
    workers: dict[Row, dict[str, typing.Any]] = dataclasses.field(default_factory=dict)
    elapsed: float = 0.0


class WorkerProcess:
    """A worker subprocess serving one row's measurement requests.

    Parameters
    ----------
    row : `Row`
        Implementation and loop.
    port : `int`
        Port of the peer.

    Raises
    ------
    RunnerError
        If the worker does not start (its own message is on stderr).
    """

    def __init__(self, row: Row, port: int) -> None:
        self.row = row
        env = dict(os.environ)
        # The compiled row (and the floor, which uses tcpframe's checksums)
        # must get the compiled kernels whatever the caller's environment
        # says; the pure row must get the twins.
        if row.implementation in ("tcpframe", "floor"):
            env["TCPFRAME_PURE_PYTHON"] = "0"
        elif row.implementation == "tcpframe-pure":
            env["TCPFRAME_PURE_PYTHON"] = "1"
        command = [sys.executable, "-m", "benchmarks.worker", row.implementation, "--port", str(port)]
        if row.loop != BLOCKING:
            command += ["--loop", row.loop]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
            env=env,
        )
        try:
            self.description = self._receive()["ready"]
        except RunnerError:
            self.close()
            raise

    def measure(self, scenario: Scenario, count: int, warmup: int) -> dict[str, typing.Any]:
        """Run a warm-up and a measurement; return the worker's answer."""
        request = {"scenario": scenario.name, "count": count, "warmup": warmup}
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        return self._receive()

    def close(self) -> None:
        """Ask the worker to exit, and wait for it."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _receive(self) -> dict[str, typing.Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            status = self._process.wait()
            raise RunnerError(f"the {self.row} worker exited with status {status}; its message is above")
        answer: dict[str, typing.Any] = json.loads(line)
        return answer


def run(plan: Plan, progress: typing.TextIO = sys.stderr) -> Samples:
    """Measure everything in ``plan``, printing progress lines.

    Raises
    ------
    RunnerError
        If a worker cannot start, e.g. the compiled kernels do not load.
    """
    samples = Samples()
    started = time.perf_counter()
    with running_peer() as port:
        workers: dict[Row, WorkerProcess] = {}
        try:
            for row in plan.rows:
                workers[row] = WorkerProcess(row, port)
                samples.workers[row] = workers[row].description
            _run_repetitions(plan, workers, samples, started, progress)
        finally:
            for worker in workers.values():
                worker.close()
    samples.elapsed = time.perf_counter() - started
    return samples


def _run_repetitions(
    plan: Plan, workers: dict[Row, WorkerProcess], samples: Samples, started: float, progress: typing.TextIO
) -> None:
    total = plan.repeat * sum(len(plan.rows_for(scenario)) for scenario in plan.scenarios)
    done = 0
    for repetition in range(1, plan.repeat + 1):
        for scenario in plan.scenarios:
            count = plan.count(scenario)
            for row in plan.rows_for(scenario):
                answer = workers[row].measure(scenario, count, plan.warmup(scenario))
                done += 1
                elapsed = time.perf_counter() - started
                if "error" in answer:
                    samples.errors.setdefault((scenario.name, row), []).append(answer["error"])
                    outcome = f"FAILED: {answer['error']}"
                else:
                    seconds = answer["seconds"]
                    samples.seconds.setdefault((scenario.name, row), []).append(seconds)
                    outcome = f"{count / seconds:>12,.0f} messages/s ({seconds:.3f} s)"
                remaining = elapsed / done * (total - done)
                print(
                    f"[{done}/{total}, {elapsed:.0f} s, ~{remaining / 60:.1f} min left] "
                    f"rep {repetition}/{plan.repeat} {scenario.name} {row}: {outcome}",
                    file=progress,
                    flush=True,
                )

"""What busy polling buys and costs: round trips per second and CPU seconds
per 10,000 round trips, for several ``busy_poll_us`` budgets.

Runs the runner's ``roundtrip`` loop (a checksummed command, ``write``,
``readuntil``, the reply's checksum checked) with a `tcpframe.Client`
against the benchmark peer (a separate process), once per budget and
repetition, interleaved; reports medians of the wall-clock time and of
this process's CPU time (user + system, `resource.getrusage`)::

    PYTHONPATH=src python -m benchmarks.busy_poll --budgets 0,20,50,100 --repeat 5
    PYTHONPATH=src python -m benchmarks.busy_poll --loop uvloop

The peer answers from a blocking socket, so every round trip wakes it;
the budget only decides whether this process sleeps meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import statistics
import typing

from .asyncio_client import measure, tcpframe_flavour
from .peer import running_peer
from .scenarios import SCENARIOS

PER = 10_000


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_run(port: int, budget: float, count: int) -> tuple[float, float]:
    """Return the wall-clock and CPU seconds of ``count`` round trips."""

    def use_busy_poll(client: typing.Any) -> None:
        client.busy_poll_us = budget

    flavour = dataclasses.replace(tcpframe_flavour(), use_busy_poll=use_busy_poll)
    cpu = _cpu_seconds()
    seconds = await measure(flavour, SCENARIOS["roundtrip_busy_poll"], count, port)
    return seconds, _cpu_seconds() - cpu


def main(argv: list[str] | None = None) -> None:
    """Measure every budget and print a table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.busy_poll", description=__doc__)
    parser.add_argument("--budgets", default="0,50", help="busy_poll_us values, comma-separated (default 0,50)")
    parser.add_argument("--count", type=int, default=PER, help=f"round trips per run (default {PER})")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args(argv)
    budgets = [float(text) for text in args.budgets.split(",")]
    runner = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        runner = uvloop.run
    samples: dict[float, list[tuple[float, float]]] = {budget: [] for budget in budgets}
    with running_peer() as port:
        runner(one_run(port, 0, args.count // 10))  # warm-up
        for _ in range(args.repeat):
            for budget in budgets:
                samples[budget].append(runner(one_run(port, budget, args.count)))
    import tcpframe

    mode = "compiled" if tcpframe.ACCELERATED else "twins"
    print(f"round trips, tcpframe ({mode}) on {args.loop}, medians of {args.repeat} runs of {args.count}:")
    print("| busy_poll_us | round trips/s | µs per round trip | CPU s per 10,000 | CPU per wall |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for budget, runs in samples.items():
        seconds = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        print(
            f"| {budget:g} | {args.count / seconds:,.0f} | {1e6 * seconds / args.count:.1f} "
            f"| {cpu * PER / args.count:.2f} | {cpu / seconds:.0%} |"
        )


if __name__ == "__main__":
    main()

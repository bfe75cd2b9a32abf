"""Compare tcpframe with an asyncio-streams baseline, end to end.

Runs every scenario against a blocking-socket peer in another process, for
tcpframe (compiled kernels), tcpframe-pure (TCPFRAME_PURE_PYTHON=1), the
streams baseline (costing per call what lsst.ts.tcpip 2.2 costs), the
await floor (the same loops over coroutines that return at once) and, for
the batch, a raw blocking client, on the stdlib asyncio loop and on
uvloop. Prints an overview, a table per scenario and the targets, and
writes latest.json, latest.md and (when matplotlib is installed)
latest.png to the output directory (quick.* for a --quick run).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import typing
from pathlib import Path

from . import report
from .runner import Plan, RunnerError, run
from .scenarios import SCENARIOS
from .worker import IMPLEMENTATIONS, LOOPS

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"


def _choices(allowed: list[str] | tuple[str, ...]) -> typing.Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        chosen = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)} (comma-separated)")
        return chosen

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="divide message counts by 10 (a smoke run)")
    parser.add_argument("--repeat", type=int, default=5, metavar="N", help="measurements per row (default 5)")
    parser.add_argument(
        "--scenarios",
        type=_choices(list(SCENARIOS)),
        default=list(SCENARIOS),
        help="comma-separated (default: all)",
    )
    parser.add_argument(
        "--implementations",
        type=_choices(IMPLEMENTATIONS),
        default=list(IMPLEMENTATIONS),
        help="comma-separated (default: all)",
    )
    parser.add_argument(
        "--loops", type=_choices(LOOPS), default=list(LOOPS), help="comma-separated (default: asyncio,uvloop)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help="where latest.json/.md/.png (quick.* with --quick) go",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (1 if anything failed)."""
    args = parse_args(argv)
    loops = args.loops
    if "uvloop" in loops and importlib.util.find_spec("uvloop") is None:
        print("uvloop is not installed: skipping it (pip install .[uvloop])", file=sys.stderr)
        loops = [loop for loop in loops if loop != "uvloop"]
    if not loops and any(implementation != "raw" for implementation in args.implementations):
        print("no event loop left to run the asyncio implementations on", file=sys.stderr)
        return 1
    plan = Plan(
        scenarios=[SCENARIOS[name] for name in args.scenarios],
        implementations=args.implementations,
        loops=loops,
        repeat=args.repeat,
        quick=args.quick,
    )
    rows = ", ".join(str(row) for row in plan.rows)
    print(
        f"benchmarking {len(plan.scenarios)} scenarios x [{rows}], {plan.repeat} repetitions",
        file=sys.stderr,
    )
    try:
        samples = run(plan)
    except RunnerError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    summaries = report.summarize(plan, samples)
    context = report.run_context()
    text = "\n".join(
        [
            report.format_header(context, plan),
            report.format_overview(plan, summaries),
            report.format_tables(plan, summaries),
            report.format_targets(summaries),
        ]
    )
    print(text)
    # A quick run has files of its own, so it never replaces a full run's.
    stem = "quick" if args.quick else "latest"
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{stem}.md").write_text(text)
    report.write_results(args.output / f"{stem}.json", plan, samples, summaries, context)
    print(f"results: {args.output / f'{stem}.json'}, {args.output / f'{stem}.md'}", file=sys.stderr)
    print(report.write_chart(args.output / f"{stem}.png", summaries, context, plan.quick), file=sys.stderr)
    print(f"took {samples.elapsed / 60:.1f} min", file=sys.stderr)
    if samples.errors:
        print(f"{sum(map(len, samples.errors.values()))} measurements failed (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

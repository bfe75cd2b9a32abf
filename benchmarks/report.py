"""Turn a run's samples into medians, tables, target checks, JSON and a chart."""

from __future__ import annotations

__all__ = [
    "TARGETS",
    "Summary",
    "Target",
    "format_tables",
    "format_targets",
    "summarize",
    "write_chart",
    "write_results",
]

import dataclasses
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import typing
from pathlib import Path

from . import PROJECT_ROOT
from .runner import Plan, Row, Samples
from .scenarios import Scenario
from .worker import BLOCKING

# Targets are judged on this loop.
TARGET_LOOP = "asyncio"


@dataclasses.dataclass(frozen=True)
class Summary:
    """Medians of one scenario on one row.

    Attributes
    ----------
    scenario : `Scenario`
    row : `Row`
    count : `int`
        Messages in each measurement.
    seconds : `list` [`float`]
        Every successful measurement.
    errors : `list` [`str`]
        Every failed measurement's error.
    messages_per_second : `float` or None
        At the median time; None if every measurement failed.
    megabytes_per_second : `float` or None
        Payload megabytes (10**6 bytes) per second, at the median time.
    ratio_to_streams : `float` or None
        Messages per second over the streams baseline's on the same loop.
    fraction_of_raw : `float` or None
        Messages per second over the raw blocking client's.
    """

    scenario: Scenario
    row: Row
    count: int
    seconds: list[float]
    errors: list[str]
    messages_per_second: float | None
    megabytes_per_second: float | None
    ratio_to_streams: float | None = None
    fraction_of_raw: float | None = None


@dataclasses.dataclass(frozen=True)
class Target:
    """A speed the issue asks tcpframe to show, on the stdlib asyncio loop.

    Parameters
    ----------
    scenario : `str`
        Scenario name.
    implementation : `str`
        ``tcpframe`` or ``tcpframe-pure``.
    against : `str`
        ``"streams"`` (goal is a ratio) or ``"raw"`` (goal is a fraction).
    goal : `float`
        Least acceptable ratio or fraction.
    """

    scenario: str
    implementation: str
    against: str
    goal: float

    def __str__(self) -> str:
        if self.against == "raw":
            return f"{self.scenario}: {self.implementation} >= {self.goal:.0%} of raw"
        return f"{self.scenario}: {self.implementation} >= {self.goal:g}x streams"

    def value(self, summaries: list[Summary]) -> float | None:
        """Return the achieved ratio or fraction, None if not measured."""
        for summary in summaries:
            if (summary.scenario.name, summary.row) == (self.scenario, Row(self.implementation, TARGET_LOOP)):
                return summary.fraction_of_raw if self.against == "raw" else summary.ratio_to_streams
        return None


TARGETS = [
    Target("recv_struct_pairs", "tcpframe", "streams", 10),
    Target("recv_structs_32", "tcpframe", "streams", 8),
    Target("recv_lines", "tcpframe", "streams", 5),
    Target("recv_json", "tcpframe", "streams", 2),
    Target("send_struct_pairs", "tcpframe", "streams", 10),
    Target("send_lines", "tcpframe", "streams", 10),
    Target("roundtrip", "tcpframe", "raw", 0.9),
    Target("batch_numpy", "tcpframe", "raw", 0.5),
    Target("recv_struct_pairs", "tcpframe-pure", "streams", 2),
    Target("recv_structs_32", "tcpframe-pure", "streams", 2),
    Target("recv_lines", "tcpframe-pure", "streams", 2),
    Target("recv_json", "tcpframe-pure", "streams", 2),
]


def summarize(plan: Plan, samples: Samples) -> list[Summary]:
    """Return the medians of every scenario and row, in report order."""
    summaries = []
    for scenario in plan.scenarios:
        count = plan.count(scenario)
        bytes_per_message = scenario.stream_bytes(count) / count
        rates: dict[Row, float] = {}
        measured = []
        for row in plan.rows_for(scenario):
            seconds = samples.seconds.get((scenario.name, row), [])
            rate = count / statistics.median(seconds) if seconds else None
            if rate is not None:
                rates[row] = rate
            measured.append((row, seconds, rate))
        for row, seconds, rate in measured:
            streams = rates.get(Row("streams", row.loop))
            raw = rates.get(Row("raw", BLOCKING))
            summaries.append(
                Summary(
                    scenario=scenario,
                    row=row,
                    count=count,
                    seconds=seconds,
                    errors=samples.errors.get((scenario.name, row), []),
                    messages_per_second=rate,
                    megabytes_per_second=None if rate is None else rate * bytes_per_message / 1e6,
                    ratio_to_streams=None if rate is None or streams is None else rate / streams,
                    fraction_of_raw=None if rate is None or raw is None else rate / raw,
                )
            )
    return summaries


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def format_tables(plan: Plan, summaries: list[Summary]) -> str:
    """Return a Markdown table per scenario."""
    sections = []
    for scenario in plan.scenarios:
        rows = [summary for summary in summaries if summary.scenario is scenario]
        with_raw = any(summary.row.implementation == "raw" for summary in rows)
        header = "| implementation | loop | messages/s | MB/s | vs streams |"
        rule = "| --- | --- | ---: | ---: | ---: |"
        if with_raw:
            header += " % of raw |"
            rule += " ---: |"
        lines = [
            f"### {scenario.name}",
            "",
            f"{scenario.description}; {plan.count(scenario):,} messages per measurement, "
            f"median of {plan.repeat}.",
            "",
            header,
            rule,
        ]
        for summary in rows:
            cells = [
                summary.row.implementation,
                summary.row.loop,
                _number(summary.messages_per_second, ",.0f"),
                _number(summary.megabytes_per_second, ",.1f"),
                _number(summary.ratio_to_streams, ".2f") + ("x" if summary.ratio_to_streams else ""),
            ]
            if with_raw:
                cells.append(_number(summary.fraction_of_raw, ".0%"))
            if summary.errors:
                cells[2] += f" ({len(summary.errors)} failed)"
            lines.append("| " + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def format_targets(summaries: list[Summary]) -> str:
    """Return a Markdown table of the targets that were measured: met or missed."""
    lines = ["### targets (stdlib asyncio loop)", "", "| target | achieved | |", "| --- | ---: | --- |"]
    for target in TARGETS:
        value = target.value(summaries)
        if value is None:
            continue
        achieved = f"{value:.0%}" if target.against == "raw" else f"{value:.2f}x"
        verdict = "met" if value >= target.goal else f"missed by {1 - value / target.goal:.0%}"
        lines.append(f"| {target} | {achieved} | {verdict} |")
    return "\n".join(lines) + "\n"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def write_results(path: Path, plan: Plan, samples: Samples, summaries: list[Summary]) -> None:
    """Write the run's settings, machine, medians and samples as JSON."""
    results: dict[str, typing.Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git": _git_commit(),
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
        },
        "python": sys.version,
        "settings": {
            "repeat": plan.repeat,
            "quick": plan.quick,
            "scenarios": [scenario.name for scenario in plan.scenarios],
            "implementations": plan.implementations,
            "loops": plan.loops,
        },
        "elapsed_seconds": round(samples.elapsed, 1),
        "workers": [samples.workers[row] for row in plan.rows],
        "results": [
            {
                "scenario": summary.scenario.name,
                "implementation": summary.row.implementation,
                "loop": summary.row.loop,
                "messages": summary.count,
                "bytes": summary.scenario.stream_bytes(summary.count),
                "seconds": summary.seconds,
                "errors": summary.errors,
                "median_seconds": statistics.median(summary.seconds) if summary.seconds else None,
                "messages_per_second": summary.messages_per_second,
                "megabytes_per_second": summary.megabytes_per_second,
                "ratio_to_streams": summary.ratio_to_streams,
                "fraction_of_raw": summary.fraction_of_raw,
            }
            for summary in summaries
        ],
        "targets": [
            {"target": str(target), "goal": target.goal, "achieved": target.value(summaries)}
            for target in TARGETS
            if target.value(summaries) is not None
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def write_chart(path: Path, summaries: list[Summary]) -> str:
    """Draw each tcpframe row's ratio to the streams baseline as a PNG.

    Dashed marks show the targets of the compiled kernels.

    Returns
    -------
    message : `str`
        Where the chart went, or why there is none (matplotlib missing).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "no chart: matplotlib is not installed (pip install .[plot])"
    ratios = {
        (summary.scenario.name, summary.row): summary.ratio_to_streams
        for summary in summaries
        if summary.row.implementation.startswith("tcpframe") and summary.ratio_to_streams
    }
    if not ratios:
        return "no chart: no tcpframe row has a streams baseline to compare with"
    names = list(dict.fromkeys(name for name, _ in ratios))
    rows = list(dict.fromkeys(row for _, row in ratios))
    height = 0.8 / len(rows)
    figure, axes = plt.subplots(figsize=(9, 1.2 + 0.25 * len(names) * len(rows)))
    for index, row in enumerate(rows):
        positions = [position + index * height for position in range(len(names))]
        values = [ratios.get((name, row), 0) for name in names]
        bars = axes.barh(positions, values, height=height, label=str(row))
        labels = [f"{value:.1f}x" if value else "" for value in values]
        axes.bar_label(bars, labels, padding=2, fontsize="x-small")
    for target in TARGETS:
        if target.scenario in names and target.implementation == "tcpframe" and target.against == "streams":
            top = names.index(target.scenario) - height / 2
            axes.plot([target.goal] * 2, [top, top + 0.8], "k--", lw=1)
    axes.axvline(1, color="grey", lw=1)
    axes.set_yticks([position + 0.4 - height / 2 for position in range(len(names))], names)
    axes.invert_yaxis()
    axes.set_xscale("log")
    low = min(0.5, 0.8 * min(ratios.values()))
    high = max(15.0, 1.5 * max(ratios.values()))
    ticks = [tick for tick in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if low <= tick <= high]
    axes.set_xticks(ticks, [f"{tick:g}x" for tick in ticks])
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlim(low, high)
    axes.set_xlabel("messages/s relative to the asyncio-streams baseline on the same loop (dashed: target)")
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return f"chart: {path}"

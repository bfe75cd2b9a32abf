"""Turn a run's samples into medians, tables, target checks, JSON and a chart."""

from __future__ import annotations

__all__ = [
    "TARGETS",
    "Summary",
    "Target",
    "format_header",
    "format_overview",
    "format_tables",
    "format_targets",
    "run_context",
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
from .runner import QUICK_DIVISOR, Plan, Row, Samples
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
    fraction_of_floor : `float` or None
        Messages per second over the await floor's on the same loop (the
        floor's time over this row's): 1.0 is at the floor.
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
    fraction_of_floor: float | None = None
    fraction_of_raw: float | None = None

    @property
    def fraction_of_ceiling(self) -> float | None:
        """`fraction_of_raw` or `fraction_of_floor`, by the scenario's ceiling."""
        return self.fraction_of_raw if self.scenario.ceiling == "raw" else self.fraction_of_floor


@dataclasses.dataclass(frozen=True)
class Target:
    """A speed issue 14 or 22 asks tcpframe to show, on the stdlib asyncio loop.

    Parameters
    ----------
    scenario : `str`
        Scenario name.
    implementation : `str`
        ``tcpframe`` or ``tcpframe-pure``.
    against : `str`
        ``"streams"`` (goal is a ratio to the baseline), ``"raw"`` (goal
        is a fraction of the raw blocking client) or ``"await"`` (goal is
        a ratio to tcpframe's per-message await loop: the same
        implementation's messages/s in scenario ``reference``, same run).
    goal : `float`
        Least acceptable ratio or fraction.
    reference : `str` or None, optional
        For ``against="await"``: the scenario of the await loop that reads
        the same stream (e.g. ``recv_structs_32`` for ``push_structs_32``).
    """

    scenario: str
    implementation: str
    against: str
    goal: float
    reference: str | None = None

    def __str__(self) -> str:
        if self.against == "raw":
            return f"{self.scenario}: {self.implementation} >= {self.goal:.0%} of raw"
        if self.against == "await":
            return f"{self.scenario}: {self.implementation} >= {self.goal:g}x its {self.reference} (per-message await)"
        return f"{self.scenario}: {self.implementation} >= {self.goal:g}x streams"

    def value(self, summaries: list[Summary]) -> float | None:
        """Return the achieved ratio or fraction, None if not measured."""
        row = Row(self.implementation, TARGET_LOOP)
        rates = {
            summary.scenario.name: summary
            for summary in summaries
            if summary.row == row and summary.scenario.name in (self.scenario, self.reference)
        }
        summary = rates.get(self.scenario)
        if summary is None:
            return None
        if self.against == "raw":
            return summary.fraction_of_raw
        if self.against == "await":
            reference = rates.get(self.reference) if self.reference is not None else None
            return None if reference is None else _ratio(summary.messages_per_second, reference.messages_per_second)
        return summary.ratio_to_streams


_RECEIVE_SCENARIOS = ("recv_struct_pairs", "recv_structs_32", "recv_lines", "recv_json", "recv_json_orjson")

TARGETS = [
    Target("recv_struct_pairs", "tcpframe", "streams", 8),
    Target("recv_structs_32", "tcpframe", "streams", 10),
    Target("recv_lines", "tcpframe", "streams", 6.5),
    Target("recv_json", "tcpframe", "streams", 2.3),
    Target("recv_json_orjson", "tcpframe", "streams", 5),
    Target("send_struct_pairs", "tcpframe", "streams", 20),
    Target("send_lines", "tcpframe", "streams", 15),
    Target("roundtrip", "tcpframe", "streams", 1.15),
    Target("roundtrip_busy_poll", "tcpframe", "streams", 2.5),
    Target("batch_numpy", "tcpframe", "raw", 0.9),
    # Issue 22's push API: callbacks and batch views against the
    # per-message await on the same stream, the baseline and raw recv_into.
    Target("push_structs_32", "tcpframe", "await", 2.5, "recv_structs_32"),
    Target("push_structs_32", "tcpframe", "streams", 15),
    Target("push_lines", "tcpframe", "await", 2.5, "recv_lines"),
    Target("push_lines", "tcpframe", "streams", 15),
    Target("push_records_32", "tcpframe", "await", 10, "recv_structs_32"),
    Target("push_records_32", "tcpframe", "raw", 0.9),
    *(Target(name, "tcpframe-pure", "streams", 2) for name in _RECEIVE_SCENARIOS),
    Target("batch_numpy", "tcpframe-pure", "raw", 0.7),
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
            floor = rates.get(Row("floor", row.loop))
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
                    ratio_to_streams=_ratio(rate, streams),
                    fraction_of_floor=_ratio(rate, floor),
                    fraction_of_raw=_ratio(rate, raw),
                )
            )
    return summaries


def _ratio(rate: float | None, reference: float | None) -> float | None:
    return None if rate is None or reference is None else rate / reference


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def _ceiling_name(scenario: Scenario) -> str:
    return "% of raw" if scenario.ceiling == "raw" else "% of floor"


def _rate(summary: Summary) -> str:
    """Messages per second, or MB/s for a batch scenario."""
    if summary.scenario.ceiling == "raw":
        return _number(summary.megabytes_per_second, ",.0f") + " MB/s"
    return _number(summary.messages_per_second, ",.0f") + "/s"


def _times(ratio: float | None) -> str:
    return _number(ratio, ".2f") + ("x" if ratio is not None else "")


def format_header(context: dict[str, typing.Any], plan: Plan) -> str:
    """Return a line saying when, where and how the run was made."""
    machine = context["machine"]
    kind = f"quick run (counts / {QUICK_DIVISOR})" if plan.quick else "full run"
    return (
        f"{kind} on {context['date']} at commit {context['git'] or 'unknown'}: {machine['cpu']}, "
        f"{machine['cpu_count']} cores, {machine['platform']}, Python {context['python'].split()[0]}; "
        f"loops {', '.join(plan.loops) or 'none'}; median of {plan.repeat}.\n"
    )


# The rows of the overview table: (implementation, loop, heading).
_OVERVIEW_ROWS = [
    ("tcpframe", TARGET_LOOP, "tcpframe"),
    ("tcpframe-pure", TARGET_LOOP, "twins"),
    ("tcpframe", "uvloop", "tcpframe on uvloop"),
]


def format_overview(plan: Plan, summaries: list[Summary]) -> str:
    """Return one Markdown table of every scenario: rates, ratios, % of floor or raw.

    Ratios are to the streams baseline on the row's own loop; percentages
    to the await floor on that loop, or to raw ``recv_into`` for the batch.
    """
    by_key = {(summary.scenario.name, summary.row): summary for summary in summaries}
    columns = [
        (implementation, loop, heading)
        for implementation, loop, heading in _OVERVIEW_ROWS
        if any(Row(implementation, loop) in plan.rows_for(scenario) for scenario in plan.scenarios)
    ]
    header = "| scenario |" + "".join(f" {h} | vs streams | % of floor/raw |" for _, _, h in columns)
    lines = [
        "### overview",
        "",
        "Rates in messages/s (MB/s for the batches); `vs streams`: over the baseline on the same loop; "
        "`% of floor/raw`: over the await floor on the same loop (raw blocking `recv_into` for the batches).",
        "",
        header,
        "| --- |" + " ---: | ---: | ---: |" * len(columns),
    ]
    for scenario in plan.scenarios:
        cells = [scenario.name]
        for implementation, loop, _ in columns:
            summary = by_key.get((scenario.name, Row(implementation, loop)))
            if summary is None:
                cells += ["-", "-", "-"]
                continue
            cells += [_rate(summary), _times(summary.ratio_to_streams), _number(summary.fraction_of_ceiling, ".0%")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def format_tables(plan: Plan, summaries: list[Summary]) -> str:
    """Return a Markdown table per scenario: every row's rates, ratio and % of floor or raw."""
    sections = []
    for scenario in plan.scenarios:
        rows = [summary for summary in summaries if summary.scenario is scenario]
        lines = [
            f"### {scenario.name}",
            "",
            f"{scenario.description}; {plan.count(scenario):,} messages per measurement, "
            f"median of {plan.repeat}. `vs streams` is over the baseline on the same loop; "
            + (
                "`% of raw` over the raw blocking `recv_into` loop."
                if scenario.ceiling == "raw"
                else "`% of floor` is the await floor's time over the row's (the same loop over coroutines that "
                "return at once, on the same event loop)."
            ),
            "",
            f"| implementation | loop | messages/s | MB/s | vs streams | {_ceiling_name(scenario)} |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for summary in rows:
            cells = [
                summary.row.implementation,
                summary.row.loop,
                _number(summary.messages_per_second, ",.0f"),
                _number(summary.megabytes_per_second, ",.1f"),
                _times(summary.ratio_to_streams),
                _number(summary.fraction_of_ceiling, ".0%"),
            ]
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


def run_context() -> dict[str, typing.Any]:
    """Return the date, git commit, machine and Python of this run."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git": _git_commit(),
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
        },
        "python": sys.version,
    }


def write_results(
    path: Path, plan: Plan, samples: Samples, summaries: list[Summary], context: dict[str, typing.Any]
) -> None:
    """Write the run's context, settings, medians and samples as JSON."""
    results: dict[str, typing.Any] = {
        **context,
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
                "fraction_of_floor": summary.fraction_of_floor,
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


# What each charted row is, for the legend: (implementation, loop) -> label.
_CHART_ROWS = {
    ("tcpframe", "asyncio"): "tcpframe (compiled) on asyncio, vs streams on asyncio",
    ("tcpframe-pure", "asyncio"): "tcpframe-pure (twins) on asyncio, vs streams on asyncio",
    ("tcpframe", "uvloop"): "tcpframe (compiled) on uvloop, vs streams on uvloop",
    ("tcpframe-pure", "uvloop"): "tcpframe-pure (twins) on uvloop, vs streams on uvloop",
}


def _bar_label(summary: Summary) -> str:
    ceiling = "raw" if summary.scenario.ceiling == "raw" else "floor"
    messages = summary.messages_per_second or 0
    if summary.scenario.ceiling == "raw" and summary.megabytes_per_second is not None:
        rate = f"{summary.megabytes_per_second:,.0f} MB/s"
    elif messages >= 1e6:
        rate = f"{messages / 1e6:.2f} M/s"
    else:
        rate = f"{messages / 1e3:.0f} k/s"
    label = f"{summary.ratio_to_streams:.1f}x, {rate}"
    if summary.fraction_of_ceiling is not None:
        label += f", {summary.fraction_of_ceiling:.0%} of {ceiling}"
    return label


def write_chart(path: Path, summaries: list[Summary], context: dict[str, typing.Any], quick: bool) -> str:
    """Draw each tcpframe row's ratio to the streams baseline as a PNG.

    Each bar is a row's rate over the baseline's on the same loop (log
    scale), labelled with the ratio, the absolute rate and the percentage
    of the ceiling. A black tick on each bar marks its ceiling on the same
    scale: the await floor on its loop, or raw ``recv_into`` for the batch;
    a dashed tick marks the row's target (targets are on the stdlib loop).
    The title holds the commit, date and machine.

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
    charted = [
        summary
        for summary in summaries
        if (summary.row.implementation, summary.row.loop) in _CHART_ROWS and summary.ratio_to_streams
    ]
    if not charted:
        return "no chart: no tcpframe row has a streams baseline to compare with"
    names = list(dict.fromkeys(summary.scenario.name for summary in charted))
    rows = [key for key in _CHART_ROWS if any((s.row.implementation, s.row.loop) == key for s in charted)]
    height = 0.8 / len(rows)
    figure, axes = plt.subplots(figsize=(12, 2.8 + 0.3 * len(names) * len(rows)))
    marks: list[float] = []
    for index, key in enumerate(rows):
        row_summaries = {s.scenario.name: s for s in charted if (s.row.implementation, s.row.loop) == key}
        positions = [name_index + index * height for name_index, name in enumerate(names) if name in row_summaries]
        drawn = [row_summaries[name] for name in names if name in row_summaries]
        bars = axes.barh(positions, [s.ratio_to_streams or 0 for s in drawn], height=height, label=_CHART_ROWS[key])
        axes.bar_label(
            bars,
            [_bar_label(s) for s in drawn],
            padding=3,
            fontsize="x-small",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5},
        )
        for position, summary in zip(positions, drawn, strict=True):
            span = [position - height / 2, position + height / 2]
            if summary.ratio_to_streams and summary.fraction_of_ceiling:
                ceiling = summary.ratio_to_streams / summary.fraction_of_ceiling
                axes.plot([ceiling] * 2, span, color="black", lw=2.5)
                marks.append(ceiling)
            for target in TARGETS:
                if (target.scenario, Row(target.implementation, TARGET_LOOP)) != (summary.scenario.name, summary.row):
                    continue
                if target.against == "streams":
                    goal = target.goal
                elif target.against == "raw" and summary.ratio_to_streams and summary.fraction_of_raw:
                    goal = target.goal * summary.ratio_to_streams / summary.fraction_of_raw
                elif target.against == "await" and summary.ratio_to_streams and (value := target.value(summaries)):
                    # The goal's rate, over the baseline's.
                    goal = target.goal * summary.ratio_to_streams / value
                else:
                    continue
                axes.plot([goal] * 2, span, "k--", lw=1)
                marks.append(goal)
    axes.plot([], [], color="black", lw=2.5, label="await floor on the bar's loop (raw recv_into for the batches)")
    axes.plot([], [], "k--", lw=1, label=f"target (on {TARGET_LOOP})")
    axes.axvline(1, color="grey", lw=1)
    axes.set_yticks([position + 0.4 - height / 2 for position in range(len(names))], names)
    axes.invert_yaxis()
    axes.set_xscale("log")
    values = [s.ratio_to_streams or 1.0 for s in charted] + marks
    low = min(0.5, 0.8 * min(values))
    high = 4 * max(values)
    ticks = [tick for tick in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200) if low <= tick <= high]
    axes.set_xticks(ticks, [f"{tick:g}x" for tick in ticks])
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlim(low, high)
    axes.set_xlabel(
        "messages/s (MB/s for the batches) over the streams baseline's on the same loop; "
        "streams costs what lsst.ts.tcpip 2.2's Client costs"
    )
    machine = context["machine"]
    axes.set_title(
        "tcpframe against the lsst.ts.tcpip-cost streams baseline" + (" (quick run)" if quick else "") + "\n"
        f"commit {context['git'] or 'unknown'}, {context['date']}, {machine['cpu']}, {machine['cpu_count']} cores, "
        f"Python {context['python'].split()[0]}",
        fontsize="medium",
    )
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize="x-small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return f"chart: {path}"

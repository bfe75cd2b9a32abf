"""Tests of the end-to-end benchmark runner (``python -m benchmarks``) and its pieces.

Everything runs for real over loopback: a quick run of a few scenarios in
subprocesses, the peer's byte check, and the baseline client. No speed is
asserted; the report's arithmetic and layout are checked on made-up
samples.
"""

import asyncio
import ctypes
import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.baseline import StreamsClient
from benchmarks.peer import running_peer
from benchmarks.runner import Plan, Row, Samples
from benchmarks.scenarios import HOST, SCENARIOS, BenchmarkError, Header, Payload

PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUICK_SCENARIOS = ("recv_structs_32", "send_struct_pairs", "batch_numpy")


def test_quick_run_measures_every_implementation(tmp_path: Path) -> None:
    # Whatever this suite's kernel mode, the runner must run the compiled
    # worker (and fail if it cannot) next to the pure one and the baselines.
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--quick",
        "--repeat",
        "1",
        "--scenarios",
        ",".join(QUICK_SCENARIOS),
        "--loops",
        "asyncio",
        "--output",
        str(tmp_path),
    ]
    try:
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=90
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the quick benchmark run took over 90 s: {error.stderr}")
    assert completed.returncode == 0, completed.stderr

    # A quick run writes its own files, never a full run's.
    assert not list(tmp_path.glob("latest.*"))
    results = json.loads((tmp_path / "quick.json").read_text())
    rows = {(result["scenario"], result["implementation"]) for result in results["results"]}
    asyncio_rows = {"tcpframe", "tcpframe-pure", "streams"}
    assert rows == {
        (scenario, implementation)
        for scenario in QUICK_SCENARIOS
        for implementation in asyncio_rows | ({"raw"} if scenario == "batch_numpy" else {"floor"})
    }
    for result in results["results"]:
        assert len(result["seconds"]) == 1 and not result["errors"], result
        assert result["messages_per_second"] > 0
        if result["implementation"] == "floor":
            assert result["fraction_of_floor"] == 1
        elif result["scenario"] == "batch_numpy":
            assert result["fraction_of_raw"] > 0 and result["fraction_of_floor"] is None
        else:
            assert result["fraction_of_floor"] > 0 and result["fraction_of_raw"] is None
    accelerated = {worker["implementation"]: worker["accelerated"] for worker in results["workers"]}
    assert accelerated == {"tcpframe": True, "tcpframe-pure": False, "streams": None, "floor": True, "raw": None}
    assert results["git"] and results["machine"]["cpu_count"]
    assert (tmp_path / "quick.md").read_text() in completed.stdout
    for heading in ("### overview", *(f"### {name}" for name in QUICK_SCENARIOS), "### targets"):
        assert heading in completed.stdout
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    assert (tmp_path / "quick.png").exists() == has_matplotlib


def test_the_struct_pair_sender_counts_frames_in_the_header() -> None:
    scenario = SCENARIOS["send_struct_pairs"]
    assert scenario.counted
    header = Header.from_buffer_copy(scenario.message(0))
    payload = Payload.from_buffer_copy(scenario.message(0), ctypes.sizeof(Header))
    header.frame_id = 1234
    assert scenario.message(1234) == bytes(header) + bytes(payload)
    assert scenario.stream_bytes(5) == 5 * len(scenario.message(0))


@pytest.mark.parametrize(
    "name", ["recv_struct_pairs", "recv_structs_32", "recv_lines", "recv_json", "push_structs_32", "push_records_32"]
)
def test_expected_total_sums_what_the_loop_takes_from_each_message(name: str) -> None:
    scenario = SCENARIOS[name]
    assert scenario.touch is not None
    count = scenario.messages_per_chunk * 2 + 3
    messages = [scenario.message(index % scenario.messages_per_chunk) for index in range(count)]
    expected = sum(scenario.touch(message) for message in messages)
    assert scenario.expected_total(count) == expected
    scenario.check_total(count, expected)
    with pytest.raises(BenchmarkError, match="add up to"):
        scenario.check_total(count, expected + 1)


def _peer_answer(port: int, name: str, stream: bytes, count: int) -> bytes:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(SCENARIOS[name].control_line(count) + stream)
        answer = b""
        while not answer.endswith(b"\n"):
            data = sock.recv(16)
            assert data, f"the peer hung up after {answer!r}"
            answer += data
        return answer


def test_peer_answers_ok_only_when_every_byte_is_right() -> None:
    scenario = SCENARIOS["send_struct_pairs"]
    count = 10_000  # more than two of the peer's receive blocks, the last one short
    stream = b"".join(map(scenario.message, range(count)))
    middle = len(stream) // 2
    with running_peer() as port:
        assert _peer_answer(port, scenario.name, stream, count) == b"OK\n"
        # One byte wrong in the middle (a counter, then a sample), the last message right.
        for wrong in (middle, middle + 100):
            damaged = stream[:wrong] + bytes([stream[wrong] ^ 1]) + stream[wrong + 1 :]
            assert _peer_answer(port, scenario.name, damaged, count) == b"BAD\n"
        # Every frame the same, as a sender that does not count would send.
        assert _peer_answer(port, scenario.name, scenario.message(0) * count, count) == b"BAD\n"


def _made_up_run() -> tuple[Plan, Samples]:
    plan = Plan(
        scenarios=[SCENARIOS["recv_lines"], SCENARIOS["batch_numpy"]],
        implementations=["tcpframe", "tcpframe-pure", "streams", "floor", "raw"],
        loops=["asyncio", "uvloop"],
        repeat=3,
        quick=False,
    )
    seconds = {"tcpframe": 0.25, "tcpframe-pure": 0.5, "streams": 1.0, "floor": 0.1, "raw": 0.2}
    samples = Samples()
    for scenario in plan.scenarios:
        for row in plan.rows_for(scenario):
            median = seconds[row.implementation] * (0.5 if row.loop == "uvloop" else 1)
            samples.seconds[(scenario.name, row)] = [median * 2, median, median / 2]
    return plan, samples


def test_summaries_relate_each_row_to_the_baseline_and_ceiling_on_its_loop() -> None:
    plan, samples = _made_up_run()
    summaries = {(s.scenario.name, s.row): s for s in report.summarize(plan, samples)}
    lines = summaries[("recv_lines", Row("tcpframe", "uvloop"))]
    assert lines.ratio_to_streams == pytest.approx(4.0)
    assert lines.fraction_of_floor == pytest.approx(0.4)
    assert lines.fraction_of_raw is None
    assert ("recv_lines", Row("raw", "blocking")) not in summaries
    batch = summaries[("batch_numpy", Row("tcpframe-pure", "asyncio"))]
    assert batch.fraction_of_raw == pytest.approx(0.4)
    assert batch.fraction_of_ceiling == batch.fraction_of_raw
    assert ("batch_numpy", Row("floor", "asyncio")) not in summaries


def test_tables_show_rates_ratios_and_percent_of_floor_or_raw() -> None:
    plan, samples = _made_up_run()
    summaries = report.summarize(plan, samples)
    tables = report.format_tables(plan, summaries)
    count = plan.count(SCENARIOS["recv_lines"])
    assert "| implementation | loop | messages/s | MB/s | vs streams | % of floor |" in tables
    assert f"| tcpframe | asyncio | {count / 0.25:,.0f} |" in tables
    assert "| 4.00x | 40% |" in tables
    assert "| vs streams | % of raw |" in tables
    assert "| raw | blocking |" in tables and "| - | 100% |" in tables
    overview = report.format_overview(plan, summaries)
    assert overview.splitlines()[4].startswith("| scenario | tcpframe | vs streams | % of floor/raw | twins |")
    assert f"| recv_lines | {count / 0.25:,.0f}/s | 4.00x | 40% | {count / 0.5:,.0f}/s | 2.00x | 20% |" in overview
    assert "| batch_numpy |" in overview and "MB/s | 4.00x | 80% |" in overview
    targets = report.format_targets(summaries)
    assert "| recv_lines: tcpframe >= 6.5x streams | 4.00x | missed by 38% |" in targets
    assert "| batch_numpy: tcpframe-pure >= 70% of raw | 40% | missed by 43% |" in targets
    assert "| batch_numpy: tcpframe >= 90% of raw | 80% | missed by 11% |" in targets


def test_chart_is_written_where_matplotlib_is_installed(tmp_path: Path) -> None:
    plan, samples = _made_up_run()
    chart = tmp_path / "chart.png"
    message = report.write_chart(chart, report.summarize(plan, samples), report.run_context(), False)
    if importlib.util.find_spec("matplotlib") is None:
        assert message.startswith("no chart: matplotlib is not installed") and not chart.exists()
    else:
        assert message == f"chart: {chart}"
        assert chart.read_bytes().startswith(b"\x89PNG")


@pytest.fixture
async def line_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that sends the lines in its list, then closes."""
    lines: list[bytes] = []

    async def send_lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(lines))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(send_lines, HOST, 0)
    async with server:
        yield server.sockets[0].getsockname()[1], lines


async def test_baseline_reads_as_lsst_tcpip_does(line_server: tuple[int, list[bytes]]) -> None:
    port, lines = line_server
    lines += [b" padded \r\n", b"not json\r\n", b"x"]
    client = await StreamsClient.connect(HOST, port)
    try:
        assert client.connected
        # Only the terminator comes off, not the spaces.
        assert await client.read_str() == " padded "
        with pytest.raises(json.JSONDecodeError, match="not json"):
            await client.read_json()
        with pytest.raises(asyncio.IncompleteReadError) as ended:
            await client.readexactly(2)
        assert ended.value.partial == b"x"
        assert not client.connected
        with pytest.raises(ConnectionError, match="Not connected"):
            await client.write(b"x")
    finally:
        await client.close()

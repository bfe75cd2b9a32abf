"""Hardening: fuzzing the reader against `asyncio.StreamReader`.

A Hypothesis state machine feeds a `tcpframe.FrameReader` and an
`asyncio.StreamReader` the same bytes, EOF and errors while reads start,
wait, complete or are cancelled mid-wait, and checks that both give the
same results (``read_into`` is checked against ``readexactly``).

The receive buffers' own state machine against a reference model is part
of the kernel spec (``kernel_spec/``); the kernel fuzz targets of
``tools/fuzz_kernels.py`` run in ``test_kernels_compiled.py``.
"""

from __future__ import annotations

import asyncio
import typing

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import tcpframe

READS = st.one_of(
    st.tuples(st.just("read"), st.integers(-1, 30)),
    st.tuples(st.just("readexactly"), st.integers(-1, 30)),
    st.tuples(st.just("read_into"), st.integers(0, 30)),
    st.tuples(st.just("readline"), st.none()),
    st.tuples(st.just("readuntil"), st.sampled_from([b"\n", b"\r\n", b"XYZZY", b"ab"])),
)


async def start_read(reader: typing.Any, name: str, argument: typing.Any) -> tuple:
    """Run one read; return a comparable record of its outcome. read_into
    on a StreamReader is readexactly (what the tcpip read_into does)."""
    try:
        if name == "read_into":
            if isinstance(reader, asyncio.StreamReader):
                return ("data", await reader.readexactly(argument))
            target = bytearray(argument)
            await reader.read_into(target)
            return ("data", bytes(target))
        if name == "readline":
            return ("data", await reader.readline())
        return ("data", await getattr(reader, name)(argument))
    except asyncio.IncompleteReadError as error:
        return ("IncompleteReadError", error.partial, error.expected)
    except asyncio.LimitOverrunError as error:
        return ("LimitOverrunError", error.consumed)
    except (ValueError, ConnectionError) as error:
        return (type(error).__name__,)


class FrameReaderMachine(RuleBasedStateMachine):
    """Same feeds, reads and cancellations on both readers; same results."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.readers: list[typing.Any] = []
        self.tasks: list[asyncio.Task] = []
        self.eof = False
        self.failed = False

    def teardown(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.settle()
        self.loop.close()

    def settle(self) -> None:
        for _ in range(4):
            self.loop.run_until_complete(asyncio.sleep(0))

    @initialize(limit=st.integers(min_value=1, max_value=30))
    def make_readers(self, limit: int) -> None:
        async def make() -> list[typing.Any]:
            return [asyncio.StreamReader(limit=limit), tcpframe.FrameReader(limit=limit)]

        self.readers = self.loop.run_until_complete(make())

    def compare_finished_reads(self) -> None:
        if not self.tasks:
            return
        expected, actual = self.tasks
        assert expected.done() == actual.done(), "one reader finished the read, the other is still waiting"
        if expected.done():
            assert actual.result() == expected.result()
            self.tasks = []

    @precondition(lambda self: not self.eof and not self.failed)
    @rule(data=st.lists(st.sampled_from([b"a", b"b", b"\n", b"\r", b"X", b"XYZZY", b"ab", b"xxxxxxx"])).map(b"".join))
    def feed_data(self, data: bytes) -> None:
        for reader in self.readers:
            reader.feed_data(data)
        self.settle()
        self.compare_finished_reads()

    @precondition(lambda self: not self.eof and not self.failed)
    @rule()
    def feed_eof(self) -> None:
        self.eof = True
        for reader in self.readers:
            reader.feed_eof()
        self.settle()
        self.compare_finished_reads()

    @precondition(lambda self: not self.eof and not self.failed)
    @rule()
    def connection_reset(self) -> None:
        self.failed = True
        for reader in self.readers:
            reader.set_exception(ConnectionResetError("reset by the test"))
        self.settle()
        self.compare_finished_reads()

    @precondition(lambda self: not self.tasks)
    @rule(read=READS)
    def start_a_read(self, read: tuple[str, typing.Any]) -> None:
        # One bad thing at a time: with a failed connection and a negative
        # size, StreamReader reports the size and FrameReader the failure.
        assume(not (self.failed and read[0] == "readexactly" and read[1] < 0))
        self.tasks = [self.loop.create_task(start_read(reader, *read)) for reader in self.readers]
        self.settle()
        self.compare_finished_reads()

    @precondition(lambda self: bool(self.tasks))
    @rule()
    def cancel_the_waiting_read(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.settle()
        assert all(task.cancelled() for task in self.tasks)
        self.tasks = []

    @invariant()
    def same_state(self) -> None:
        if self.readers:
            stream_reader, frame_reader = self.readers
            assert frame_reader.at_eof() == stream_reader.at_eof()
            assert frame_reader.buffered == len(stream_reader._buffer)


TestFrameReaderAgainstStreamReader = FrameReaderMachine.TestCase
TestFrameReaderAgainstStreamReader.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

"""The receive buffer's reference model, and a state machine that checks an
implementation against it, operation by operation."""

from __future__ import annotations

import asyncio
import typing

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from .streams import TOKENS


class ReferenceBuffer:
    """What a receive buffer must do, spelled out over a `bytes` object."""

    def __init__(self) -> None:
        self.data = b""

    def consume(self, n: int) -> bytes:
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk

    @staticmethod
    def check_separator(separator: object) -> bytes:
        if not isinstance(separator, (bytes, bytearray, memoryview)):
            raise TypeError("separator must be bytes")
        if not separator:
            raise ValueError("empty separator")
        return bytes(separator)

    def locate(self, separator: object, limit: int) -> int | None:
        """The separator's offset, None to wait, or LimitOverrunError (as
        `asyncio.StreamReader.readuntil`)."""
        if limit < 0:
            raise ValueError("negative limit")
        separator = self.check_separator(separator)
        index = self.data.find(separator)
        if index < 0:
            offset = len(self.data) + 1 - len(separator)
            if offset > limit:
                raise asyncio.LimitOverrunError("not found", offset)
            return None
        if index > limit:
            raise asyncio.LimitOverrunError("found beyond the limit", index)
        return index

    def take(self, n: int) -> bytes:
        return self.consume(len(self.data) if n < 0 else n)

    def take_exactly(self, n: int) -> bytes | None:
        if n < 0:
            raise ValueError("negative size")
        return self.consume(n) if len(self.data) >= n else None

    def take_until(self, separator: object, limit: int) -> bytes | None:
        index = self.locate(separator, limit)
        return None if index is None else self.consume(index + len(bytes(separator)))

    def separator_arrived(self, separator: object, limit: int) -> bool:
        try:
            return self.locate(separator, limit) is not None
        except asyncio.LimitOverrunError:
            return True

    def take_line(self, separator: object, limit: int, encoding: str) -> str | None:
        index = self.locate(separator, limit)
        if index is None:
            return None
        return self.consume(index + len(bytes(separator)))[:index].decode(encoding)

    def copy_into(self, size: int) -> tuple[bool, bytes]:
        if len(self.data) < size:
            return False, b"." * size
        return True, self.consume(size)

    def peek(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("negative size")
        return self.data[:n]

    def skip(self, n: int) -> int:
        if n < 0:
            raise ValueError("negative size")
        return len(self.consume(n))

    def find(self, separator: object) -> int:
        return self.data.find(self.check_separator(separator))


def model_outcome(call: typing.Callable[[], object]) -> tuple:
    """What ``call`` returned or raised, as far as the model can tell."""
    try:
        return ("result", call())
    except asyncio.LimitOverrunError as error:
        return ("LimitOverrunError", error.consumed)
    except UnicodeDecodeError as error:
        return ("UnicodeDecodeError", error.object)
    except (ValueError, TypeError) as error:
        return (type(error).__name__,)


payloads = st.one_of(st.lists(st.sampled_from(TOKENS), max_size=10).map(b"".join), st.binary(max_size=50))
machine_separators = st.one_of(
    st.sampled_from([b"\n", b"\r\n", b"XYZZY", b"ZZ", b"Z"]), st.binary(min_size=1, max_size=3)
)
bad_separators = st.sampled_from([b"", bytearray(), "\n", None, 10])
machine_sizes = st.integers(min_value=-3, max_value=70)
machine_limits = st.integers(min_value=0, max_value=70)


class ReceiveBufferMachine(RuleBasedStateMachine):
    """Random feeds and requests on one receive buffer, each checked
    against `ReferenceBuffer`."""

    implementation: typing.Any = None

    def __init__(self) -> None:
        super().__init__()
        self.model = ReferenceBuffer()
        self.buffer: typing.Any = None
        # The receive size the memory rule (tcpframe.receive_sizes) gives.
        self.receive_size = self.min_receive_size = self.max_receive_size = 1

    @initialize(min_receive_size=st.integers(min_value=1, max_value=40), growth=st.integers(min_value=0, max_value=80))
    def make_buffer(self, min_receive_size: int, growth: int) -> None:
        self.receive_size = self.min_receive_size = min_receive_size
        self.max_receive_size = min_receive_size + growth
        self.buffer = self.implementation.ReceiveBuffer(self.min_receive_size, self.max_receive_size)

    def check(self, call: typing.Callable[[typing.Any], object]) -> None:
        expected = model_outcome(lambda: call(self.model))
        actual = model_outcome(lambda: call(self.buffer))
        assert actual == expected

    @rule(data=payloads, kind=st.sampled_from([bytes, bytearray, memoryview]))
    def feed(self, data: bytes, kind: type) -> None:
        self.buffer.feed(kind(data))
        self.model.data += data

    @rule(data=payloads, sizehint=st.integers(min_value=-1, max_value=80), keep=st.integers(0, 50))
    def receive(self, data: bytes, sizehint: int, keep: int) -> None:
        """The transport's way in: write into get_buffer's view, commit
        (perhaps fewer bytes than written)."""
        view = self.buffer.get_buffer(sizehint)
        offered = len(view)
        assert offered == max(sizehint, self.receive_size)
        data = data[:offered]
        view[: len(data)] = data
        view.release()
        committed = min(keep, len(data))
        self.buffer.buffer_updated(committed)
        self.model.data += data[:committed]
        if committed == offered:
            self.receive_size = min(2 * self.receive_size, self.max_receive_size)
        elif 2 * committed <= offered:
            self.receive_size = max(self.receive_size // 2, self.min_receive_size)

    @rule(extra=st.integers(min_value=1, max_value=5))
    def commit_more_than_offered(self, extra: int) -> None:
        view = self.buffer.get_buffer(-1)
        size = len(view)
        view.release()
        for nbytes in (size + extra, -extra):
            with pytest.raises(ValueError):
                self.buffer.buffer_updated(nbytes)

    @rule(n=machine_sizes)
    def take(self, n: int) -> None:
        self.check(lambda b: b.take(n))

    @rule(n=machine_sizes)
    def take_exactly(self, n: int) -> None:
        self.check(lambda b: b.take_exactly(n))

    @rule(separator=machine_separators, limit=machine_limits)
    def take_until(self, separator: bytes, limit: int) -> None:
        self.check(lambda b: b.take_until(separator, limit))

    @rule(separator=machine_separators, limit=machine_limits, encoding=st.sampled_from(["utf-8", "latin-1", None]))
    def separated_takes(self, separator: bytes, limit: int, encoding: str | None) -> None:
        """`SeparatedTakes` with a fixed limit: take_line if an encoding
        is given, else take_until."""

        def take(b: typing.Any) -> object:
            if b is self.model:
                if encoding is None:
                    return self.model.take_until(separator, limit)
                return self.model.take_line(separator, limit, encoding)
            takes = self.implementation.SeparatedTakes(b, limit)
            assert takes.limit == limit
            return takes.take_until(separator) if encoding is None else takes.take_line(separator, encoding)

        self.check(take)

    @rule(separator=st.one_of(machine_separators, bad_separators), limit=machine_limits)
    def separator_arrived(self, separator: object, limit: int) -> None:
        self.check(lambda b: b.separator_arrived(separator, limit))

    @rule(separator=machine_separators, limit=machine_limits, encoding=st.sampled_from(["utf-8", "ascii", "latin-1"]))
    def take_line(self, separator: bytes, limit: int, encoding: str) -> None:
        self.check(lambda b: b.take_line(separator, limit, encoding))

    @rule(separator=machine_separators, delta=st.integers(-1, 1))
    def take_until_at_the_limit(self, separator: bytes, delta: int) -> None:
        """A limit right next to the offset that decides between a frame,
        None and LimitOverrunError, where an off-by-one would show."""
        index = self.model.data.find(separator)
        offset = index if index >= 0 else len(self.model.data) + 1 - len(separator)
        self.check(lambda b: b.take_until(separator, max(0, offset + delta)))

    @rule(separator=st.one_of(machine_separators, bad_separators), limit=st.integers(-2, 70))
    def take_until_with_bad_arguments(self, separator: object, limit: int) -> None:
        if limit < 0 and not isinstance(separator, bytes):
            limit = 0  # one bad argument at a time: the order of checks is not specified
        self.check(lambda b: b.take_until(separator, limit))

    @rule(size=st.integers(min_value=0, max_value=40))
    def copy_into(self, size: int) -> None:
        def copy(b: typing.Any) -> tuple[bool, bytes]:
            if b is self.model:
                return self.model.copy_into(size)
            target = bytearray(b"." * size)
            return b.copy_into(target), bytes(target)

        self.check(copy)

    @rule(n=machine_sizes)
    def peek(self, n: int) -> None:
        self.check(lambda b: b.peek(n))

    @rule(n=machine_sizes)
    def skip(self, n: int) -> None:
        self.check(lambda b: b.skip(n))

    @rule(separator=st.one_of(machine_separators, bad_separators))
    def find(self, separator: object) -> None:
        self.check(lambda b: b.find(separator))

    @rule()
    def clear(self) -> None:
        self.buffer.clear()
        self.model.data = b""

    @invariant()
    def holds_exactly_the_unread_bytes(self) -> None:
        if self.buffer is not None:
            assert len(self.buffer) == len(self.model.data)
            assert self.buffer.peek(len(self.model.data) + 1) == self.model.data

    @invariant()
    def receives_are_sized_by_the_memory_rule(self) -> None:
        if self.buffer is not None:
            assert self.buffer.receive_size == self.receive_size
            assert self.buffer.allocated >= len(self.buffer)


MACHINE_SETTINGS = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

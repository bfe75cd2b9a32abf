"""The push kernels: walking each complete message of a receive and
handing it to a callback (structs, record batches, lines, frames,
checksummed frames)."""

import asyncio
import ctypes
import typing

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tcpframe import ChecksumFrame, LengthPrefix
from tcpframe._kernels import Kernels

from .frames import encode_safely, framings, length_prefixes
from .streams import SEPARATORS, TOKENS, chunkings, spec_settings
from .structs import Reading


class PushSpec:
    """The push kernels' part of `KernelSpec`."""

    kernels: Kernels

    def push_all(self, pusher: typing.Any, buffer: typing.Any, chunks: list[bytes]) -> None:
        """Deliver ``chunks`` one at a time, walking after each, as a reader does."""
        for chunk in chunks:
            buffer.feed(chunk)
            assert pusher.run() is None

    @spec_settings(max_examples=100)
    @given(count=st.integers(min_value=0, max_value=20), tail=st.integers(min_value=0, max_value=15), data=st.data())
    def test_pushed_structs_and_records_do_not_depend_on_chunking(
        self, count: int, tail: int, data: st.DataObject
    ) -> None:
        records = [Reading(i, i / 4) for i in range(count)]
        stream = b"".join(map(bytes, records)) + bytes(range(tail))
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            target = Reading()
            seen: list[tuple[int, float]] = []
            pusher = self.kernels.push.StructPusher(
                buffer, target, target, lambda s, seen=seen: seen.append((s.sequence, s.value))
            )
            self.push_all(pusher, buffer, chunks)
            assert seen == [(r.sequence, r.value) for r in records], name
            assert pusher.delivered == count and pusher.size == ctypes.sizeof(Reading)
            assert buffer.peek(100) == bytes(range(tail))

            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            batches: list[list[int]] = []
            dtype = np.dtype([("sequence", "<u4"), ("value", "<f8")], align=True)
            pusher = self.kernels.push.RecordPusher(
                buffer,
                dtype.itemsize,
                lambda data, n, dtype=dtype: np.frombuffer(data, dtype, n),
                lambda batch, batches=batches: batches.append(batch["sequence"].tolist()),
            )
            self.push_all(pusher, buffer, chunks)
            assert all(batches) and [n for batch in batches for n in batch] == list(range(count)), name
            assert pusher.delivered == count
            assert buffer.peek(100) == bytes(range(tail))

    @spec_settings(max_examples=100)
    @given(
        stream=st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join),
        separator=st.sampled_from(SEPARATORS),
        data=st.data(),
    )
    def test_pushed_lines_do_not_depend_on_chunking(self, stream: bytes, separator: bytes, data: st.DataObject) -> None:
        *lines, rest = stream.split(separator)
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            seen: list[bytes] = []
            pusher = self.kernels.push.LinePusher(buffer, separator, 1000, None, seen.append)
            self.push_all(pusher, buffer, chunks)
            assert seen == lines, name
            assert buffer.peek(1000) == rest

    def test_pushed_lines_are_decoded_and_a_bad_one_raises_consumed(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        seen: list[str] = []
        pusher = self.kernels.push.LinePusher(buffer, b"\r\n", 1000, "utf-8", seen.append)
        buffer.feed("é\r\n\xff\r\nb\r\n".encode("latin-1").replace(b"\xe9", "é".encode()))
        with pytest.raises(UnicodeDecodeError):
            pusher.run()
        assert seen == ["é"]
        assert pusher.run() is None
        assert seen == ["é", "b"] and pusher.delivered == 2

    def test_a_line_beyond_the_limit_raises_and_consumes_nothing(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        pusher = self.kernels.push.LinePusher(buffer, b"\n", 4, "utf-8", print)
        buffer.feed(b"abcdefgh")
        with pytest.raises(asyncio.LimitOverrunError):
            pusher.run()
        assert len(buffer) == 8

    @spec_settings(max_examples=100)
    @given(
        prefix=length_prefixes,
        payloads=st.lists(st.binary(max_size=40), max_size=8),
        data=st.data(),
    )
    def test_pushed_frames_do_not_depend_on_chunking(
        self, prefix: LengthPrefix, payloads: list[bytes], data: st.DataObject
    ) -> None:
        assume(all(len(p) <= prefix.max_frame_size for p in payloads))
        try:
            stream = b"".join(prefix.encode(len(p)) + p for p in payloads)
        except ValueError:
            assume(False)
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            seen: list[bytes] = []
            pusher = self.kernels.push.FramePusher(buffer, prefix, seen.append)
            self.push_all(pusher, buffer, chunks)
            assert seen == payloads, name
            assert len(buffer) == 0

    @spec_settings(max_examples=100)
    @given(framing=framings, bodies=st.lists(st.binary(max_size=20), max_size=6), data=st.data())
    def test_pushed_checksummed_frames_do_not_depend_on_chunking(
        self, framing: ChecksumFrame, bodies: list[bytes], data: st.DataObject
    ) -> None:
        frames = [encode_safely(framing, body) for body in bodies]
        assume(all(frame is not None for frame in frames))
        stream = b"".join(typing.cast(list[bytes], frames))
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            seen: list[bytes] = []
            pusher = self.kernels.push.ChecksummedPusher(buffer, framing, 1000, seen.append)
            self.push_all(pusher, buffer, chunks)
            assert seen == bodies, name

    @pytest.mark.parametrize("kind", ["structs", "lines", "records"])
    def test_a_walk_stops_at_a_result_a_cleared_active_and_an_exception(self, kind: str) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        seen: list[int] = []
        actions: dict[int, typing.Any] = {}

        def callback(message: typing.Any) -> typing.Any:
            number = int(message[0]) if kind == "records" else message.value if kind == "structs" else int(message)
            seen.append(number)
            action = actions.get(number)
            if isinstance(action, Exception):
                raise action
            if action == "stop":
                pusher.active = False
                return None
            return action

        if kind == "structs":
            target = ctypes.c_uint32()
            pusher = self.kernels.push.StructPusher(buffer, target, target, callback)
            encode: typing.Callable[[int], bytes] = lambda n: bytes(ctypes.c_uint32(n))  # noqa: E731
        elif kind == "lines":
            pusher = self.kernels.push.LinePusher(buffer, b"\n", 100, "ascii", callback)
            encode = lambda n: b"%d\n" % n  # noqa: E731
        else:
            pusher = self.kernels.push.RecordPusher(buffer, 4, lambda d, n: np.frombuffer(d, "<u4", n), callback)
            encode = lambda n: bytes(ctypes.c_uint32(n))  # noqa: E731
        token = object()
        actions.update({1: token, 3: "stop", 5: ValueError("five")})
        buffer.feed(b"".join(encode(n) for n in range(8)))
        if kind == "records":
            # One call per walk, with every record: its result stops nothing more.
            actions[0] = token
            assert pusher.run() is token
            assert seen == [0] and pusher.delivered == 8 and len(buffer) == 0
            return
        assert pusher.run() is token
        assert seen == [0, 1]
        assert pusher.run() is None  # stopped after 3
        assert seen == [0, 1, 2, 3] and not pusher.active
        assert pusher.run() is None and seen == [0, 1, 2, 3]
        pusher.active = True
        with pytest.raises(ValueError, match="five"):
            pusher.run()
        assert seen == [0, 1, 2, 3, 4, 5] and pusher.delivered == 6
        assert pusher.run() is None
        assert seen == list(range(8)) and len(buffer) == 0

    def test_a_struct_pusher_refuses_a_target_it_cannot_fill(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        with pytest.raises(TypeError):
            self.kernels.push.StructPusher(buffer, b"abcd", None, print)
        with pytest.raises(ValueError):
            self.kernels.push.StructPusher(buffer, bytearray(), None, print)
        with pytest.raises(ValueError):
            self.kernels.push.RecordPusher(buffer, 0, print, print)

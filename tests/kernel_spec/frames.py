"""The frame kernels' spec: length-prefixed and checksummed frames read from
a receive buffer, however the stream is chunked."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tcpframe import ChecksumFrame, FrameError, LengthPrefix
from tcpframe._kernels import Kernels
from tcpframe.framing import CHECKSUM_SIZES

from .checksums import CHECKSUMS
from .streams import chunkings, deliver, spec_settings

length_prefixes = st.builds(
    LengthPrefix,
    size=st.sampled_from([1, 2, 4, 8]),
    byteorder=st.sampled_from(["big", "little"]),
    includes_prefix=st.booleans(),
    max_frame_size=st.integers(min_value=0, max_value=40),
)
framings = st.builds(
    ChecksumFrame,
    checksum=st.sampled_from(CHECKSUMS),
    encoding=st.sampled_from(["hex", "binary"]),
    start=st.sampled_from([b"", b"$", b".", b"\x02"]),
    separator=st.sampled_from([b"", b"*", b"|"]),
    terminator=st.sampled_from([b"\r\n", b"\r", b"\n", b"\x03"]),
    covers_start=st.booleans(),
    byteorder=st.sampled_from(["big", "little"]),
    uppercase=st.booleans(),
)


def encode_safely(framing: ChecksumFrame, body: bytes) -> bytes | None:
    """Return ``framing.encode(body)``, or None if it cannot be encoded."""
    try:
        return framing.encode(body)
    except ValueError:
        return None


class FrameSpec:
    """What the frame kernels do, on every implementation."""

    kernels: Kernels

    @spec_settings(max_examples=150)
    @given(
        prefix=length_prefixes.map(lambda p: LengthPrefix(p.size, p.byteorder, p.includes_prefix, 300)),
        payloads=st.lists(st.binary(max_size=60), max_size=10),
        data=st.data(),
    )
    def test_length_prefixed_frames_do_not_depend_on_chunking(
        self, prefix: LengthPrefix, payloads: list[bytes], data: st.DataObject
    ) -> None:
        frames = self.kernels.frames
        stream = b"".join(prefix.encode(len(p)) + p for p in payloads)
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            received = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while len(buffer) >= frames.length_prefixed_nbytes(buffer, prefix):
                    received.append(frames.take_length_prefixed(buffer, prefix))
                assert frames.take_length_prefixed(buffer, prefix) is None
            assert received == payloads, label
            assert len(buffer) == 0

    @spec_settings(max_examples=150)
    @given(framing=framings, bodies=st.lists(st.binary(max_size=30), max_size=8), data=st.data())
    def test_checksummed_frames_do_not_depend_on_chunking(
        self, framing: ChecksumFrame, bodies: list[bytes], data: st.DataObject
    ) -> None:
        encoded = [(body, encode_safely(framing, body)) for body in bodies]
        encoded = [(body, frame) for body, frame in encoded if frame is not None]
        stream = b"".join(frame for _, frame in encoded)
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            received = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while (body := self.kernels.frames.take_checksummed(buffer, framing, 1000)) is not None:
                    received.append(body)
            assert received == [body for body, _ in encoded], label
            assert len(buffer) == 0

    @spec_settings()
    @given(framing=framings, body=st.binary(max_size=30))
    def test_encode_checksummed_writes_the_frame_that_take_checksummed_reads(
        self, framing: ChecksumFrame, body: bytes
    ) -> None:
        covered = framing.start + body if framing.covers_start else body
        value = getattr(self.kernels.checksums, framing.checksum)(covered)
        size = CHECKSUM_SIZES[framing.checksum]
        if framing.encoding == "hex":
            field = f"{value:0{2 * size}{'X' if framing.uppercase else 'x'}}".encode()
        else:
            field = value.to_bytes(size, framing.byteorder)
        frame = framing.start + body + framing.separator + field + framing.terminator
        if frame.find(framing.terminator) != len(frame) - len(framing.terminator):
            with pytest.raises(FrameError, match="holds its terminator"):
                self.kernels.frames.encode_checksummed(framing, bytearray(body))
            return
        assert self.kernels.frames.encode_checksummed(framing, bytearray(body)) == frame
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        buffer.feed(frame)
        assert self.kernels.frames.take_checksummed(buffer, framing, 1000) == body

    @spec_settings()
    @given(prefix=length_prefixes, declared=st.integers(0, 60))
    def test_a_bad_length_prefix_raises_and_consumes_nothing(self, prefix: LengthPrefix, declared: int) -> None:
        payload = declared - prefix.size if prefix.includes_prefix else declared
        assume(not 0 <= payload <= prefix.max_frame_size)  # good prefixes: the chunking tests read those
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        buffer.feed(declared.to_bytes(prefix.size, prefix.byteorder) + b"rest")
        with pytest.raises(FrameError, match="length prefix declares"):
            self.kernels.frames.take_length_prefixed(buffer, prefix)
        with pytest.raises(FrameError, match="length prefix declares"):
            self.kernels.frames.length_prefixed_nbytes(buffer, prefix)
        assert len(buffer) == prefix.size + 4

    @spec_settings()
    @given(framing=framings, body=st.binary(max_size=20), flip=st.integers(0, 7))
    def test_a_corrupt_checksummed_frame_raises_and_the_next_one_reads(
        self, framing: ChecksumFrame, body: bytes, flip: int
    ) -> None:
        frame = encode_safely(framing, body)
        assume(frame is not None)
        corrupt = bytearray(frame)
        position = len(framing.start)  # the body's first byte, or the separator or checksum
        corrupt[position] ^= 1 << flip
        # A flip that makes an early terminator makes another frame boundary, not a corrupt frame.
        assume(framing.terminator not in corrupt[: -len(framing.terminator)])
        width = CHECKSUM_SIZES[framing.checksum] * (2 if framing.encoding == "hex" else 1)
        in_checksum = position >= len(frame) - len(framing.terminator) - width
        # A hex digit whose case changed spells the same checksum.
        assume(not (in_checksum and framing.encoding == "hex" and corrupt.lower() == frame.lower()))
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        buffer.feed(bytes(corrupt) + frame)
        with pytest.raises(FrameError) as raised:  # a ChecksumMismatchError is a FrameError
            self.kernels.frames.take_checksummed(buffer, framing, 1000)
        assert raised.value.frame == bytes(corrupt)
        assert self.kernels.frames.take_checksummed(buffer, framing, 1000) == body
        assert len(buffer) == 0

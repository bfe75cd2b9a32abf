"""Streams, their chunkings, and the Hypothesis settings every family's spec uses."""

from __future__ import annotations

import itertools
import typing

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SEPARATORS = [b"\n", b"\r\n", b"XYZZY", b"Z", b"ZY", b"ZZ"]
# Streams are made of separators, pieces of them, non-UTF-8 bytes and
# filler, so that matches, near misses and separators split across chunks
# all turn up often.
TOKENS = [b"a", b"bc", b"\r", b"\n", b"\r\n", b"X", b"XYZ", b"ZY", b"XYZZY", b"Z", "é".encode(), b"\xff", b"\xc3"]


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``stream`` at the offsets ``cuts`` (taken modulo its length + 1)."""
    edges = sorted({cut % (len(stream) + 1) for cut in cuts} | {0, len(stream)})
    return [stream[start:stop] for start, stop in itertools.pairwise(edges)]


def chunkings(stream: bytes, data: st.DataObject) -> dict[str, list[bytes]]:
    """The ways a stream may arrive: a byte at a time, at random cuts, whole."""
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream))), label="cuts")
    return {
        "one byte": [stream[i : i + 1] for i in range(len(stream))],
        "random": chunked(stream, cuts),
        "whole": [stream],
    }


def deliver(buffer: typing.Any, chunk: bytes, through_get_buffer: bool) -> None:
    """Put ``chunk`` into ``buffer`` as a transport does, or with ``feed``."""
    if through_get_buffer:
        view = buffer.get_buffer(len(chunk))
        view[: len(chunk)] = chunk
        view.release()
        buffer.buffer_updated(len(chunk))
    else:
        buffer.feed(chunk)


def receive(buffer: typing.Any, nbytes: int) -> int:
    """Receive ``nbytes`` zero bytes as a transport does; return the offer."""
    with buffer.get_buffer() as view:
        offered = len(view)
        view[:nbytes] = bytes(nbytes)
    buffer.buffer_updated(nbytes)
    return offered


def split_at(stream: bytes, separator: bytes) -> list[bytes]:
    """Reference framing: the frames through each separator, then the rest."""
    frames = []
    start = 0
    while (index := stream.find(separator, start)) >= 0:
        frames.append(stream[start : index + len(separator)])
        start = index + len(separator)
    return frames + [stream[start:]]


def spec_settings(**changes: typing.Any) -> settings:
    """Hypothesis settings for a property of the spec.

    Every property runs once per implementation, from a different class,
    which Hypothesis's ``differing_executors`` health check would refuse.
    Here that is the point: an example that failed on one implementation
    is replayed on the other too.
    """
    return settings(deadline=None, suppress_health_check=[HealthCheck.differing_executors], **changes)

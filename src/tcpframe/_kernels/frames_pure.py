"""Pure-Python twin of the compiled frame kernels (``ext/frames.pyx``).

It works on the twin `ReceiveBuffer` through its public methods.
"""

__all__ = ["encode_checksummed", "length_prefixed_nbytes", "take_checksummed", "take_length_prefixed"]

import typing
from collections.abc import Callable

from ..errors import ChecksumMismatchError, FrameError
from ..framing import CHECKSUM_SIZES, ChecksumFrame, LengthPrefix
from . import checksums_pure as checksums
from .byte_rules_pure import format_hex, is_hex
from .receive_buffer_pure import ReceiveBuffer

if typing.TYPE_CHECKING:
    from typing_extensions import Buffer

# The checksums a ChecksumFrame can carry (tcpframe.framing.CHECKSUM_SIZES),
# each with its function and its size, for one lookup per frame.
_CHECKSUMS: "dict[str, tuple[Callable[[Buffer], int], int]]" = {
    name: (getattr(checksums, name), size) for name, size in CHECKSUM_SIZES.items()
}


def _payload_size(buffer: ReceiveBuffer, prefix: LengthPrefix) -> int:
    """Return the payload size the buffered prefix declares, -1 if the
    prefix is not all buffered."""
    size = prefix.size
    if len(buffer) < size:
        return -1
    length = int.from_bytes(buffer.peek(size), prefix.byteorder)
    if prefix.includes_prefix:
        if length < size:
            raise FrameError(
                f"length prefix declares {length} bytes, fewer than the {size}-byte prefix itself"
            )
        length -= size
    if length > prefix.max_frame_size:
        raise FrameError(
            f"length prefix declares a payload of {length} bytes, "
            f"more than max_frame_size={prefix.max_frame_size}"
        )
    return length


def take_length_prefixed(buffer: ReceiveBuffer, prefix: LengthPrefix) -> bytes | None:
    """Consume the next length-prefixed frame and return its payload.

    Parameters
    ----------
    buffer : `ReceiveBuffer`
        The buffered bytes; a frame starts at the front.
    prefix : `tcpframe.LengthPrefix`
        The frames' length prefix.

    Returns
    -------
    payload : `bytes` or None
        The payload, or None if the frame is not all buffered yet (nothing
        is consumed).

    Raises
    ------
    tcpframe.FrameError
        If the prefix declares a payload larger than ``max_frame_size``,
        or a length smaller than the prefix when it includes the prefix.
        Nothing is consumed.
    """
    payload_size = _payload_size(buffer, prefix)
    if payload_size < 0 or len(buffer) - prefix.size < payload_size:
        return None
    buffer.skip(prefix.size)
    return buffer.take_exactly(payload_size)


def length_prefixed_nbytes(buffer: ReceiveBuffer, prefix: LengthPrefix) -> int:
    """Return how many bytes the next length-prefixed frame needs buffered.

    That is the prefix size while the prefix is incomplete, then prefix
    plus payload.

    Raises
    ------
    tcpframe.FrameError
        As `take_length_prefixed`.
    """
    payload_size = _payload_size(buffer, prefix)
    return prefix.size if payload_size < 0 else prefix.size + payload_size


def encode_checksummed(framing: ChecksumFrame, body: "Buffer") -> bytes:
    """Return the frame that carries ``body``, checksum included.

    Parameters
    ----------
    framing : `tcpframe.ChecksumFrame`
        The frame's layout and checksum.
    body : bytes-like
        The frame's contents.

    Returns
    -------
    frame : `bytes`
        ``start + body + separator + checksum + terminator``.

    Raises
    ------
    tcpframe.FrameError
        If the frame would hold its terminator before the end (in the
        body, or in a binary checksum), so that it could not be read.
    """
    data = bytes(body)
    covered = framing.start + data if framing.covers_start else data
    checksum, checksum_size = _CHECKSUMS[framing.checksum]
    value = checksum(covered)
    if framing.encoding == "hex":
        field = format_hex(value, 2 * checksum_size, framing.uppercase)
    else:
        field = value.to_bytes(checksum_size, framing.byteorder)
    terminator = framing.terminator
    frame = b"".join((framing.start, data, framing.separator, field, terminator))
    if frame.find(terminator) != len(frame) - len(terminator):
        raise FrameError(f"frame {frame!r} holds its terminator {terminator!r} before the end")
    return frame


def take_checksummed(buffer: ReceiveBuffer, framing: ChecksumFrame, limit: int) -> bytes | None:
    """Consume the next checksummed frame, verify it and return its body.

    Parameters
    ----------
    buffer : `ReceiveBuffer`
        The buffered bytes; a frame starts at the front.
    framing : `tcpframe.ChecksumFrame`
        The frames' layout and checksum.
    limit : `int`
        The terminator must start within this many bytes of the front, as
        for `ReceiveBuffer.take_until`.

    Returns
    -------
    body : `bytes` or None
        The frame's body, or None if its terminator is not buffered yet
        (nothing is consumed).

    Raises
    ------
    asyncio.LimitOverrunError
        As `ReceiveBuffer.take_until`; nothing is consumed.
    tcpframe.ChecksumMismatchError
        If the checksum does not match. The frame is consumed.
    tcpframe.FrameError
        If the frame lacks its start marker or separator, or its checksum
        is not hex digits (hex encoding). The frame is consumed.
    """
    frame = buffer.take_until(framing.terminator, limit)
    if frame is None:
        return None
    checksum, checksum_size = _CHECKSUMS[framing.checksum]
    hex_encoded = framing.encoding == "hex"
    width = 2 * checksum_size if hex_encoded else checksum_size
    start = framing.start
    separator = framing.separator
    checksum_end = len(frame) - len(framing.terminator)
    checksum_start = checksum_end - width
    body_end = checksum_start - len(separator)
    if not frame.startswith(start):
        raise FrameError(f"frame does not start with {start!r}: {frame!r}", frame)
    if body_end < len(start):
        raise FrameError(f"frame is too short to hold a checksum: {frame!r}", frame)
    if frame[body_end:checksum_start] != separator:
        raise FrameError(f"no {separator!r} before the checksum: {frame!r}", frame)
    field = frame[checksum_start:checksum_end]
    if hex_encoded:
        if not is_hex(field):
            raise FrameError(f"checksum {field!r} is not {width} hex digits: {frame!r}", frame)
        received = int(field, 16)
    else:
        received = int.from_bytes(field, framing.byteorder)
    expected = checksum(memoryview(frame)[0 if framing.covers_start else len(start) : body_end])
    if expected != received:
        raise ChecksumMismatchError(framing.checksum, expected, received, frame)
    return frame[len(start) : body_end]

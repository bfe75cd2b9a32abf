"""Compiled frame kernels; their twin is ``tcpframe._kernels.frames_pure``.

Each take parses the next frame straight from the storage of a compiled
`ReceiveBuffer`: a frame that is valid and complete costs one ``bytes``
object, its payload or body, and nothing else. `encode_checksummed` writes
the frames that `take_checksummed` reads. The frames' layouts are the
specs of ``tcpframe.framing``.
"""

__all__ = ["encode_checksummed", "length_prefixed_nbytes", "take_checksummed", "take_length_prefixed"]

from cpython.buffer cimport PyBUF_READ
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.memoryview cimport PyMemoryView_FromMemory
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcmp

from byte_rules cimport hex_digit, hex_value, sum8_of, xor8_of
from tcpframe._kernels.receive_buffer_compiled cimport ReceiveBuffer

from tcpframe._kernels import checksums_compiled as checksums
from tcpframe.errors import ChecksumMismatchError, FrameError
from tcpframe.framing import CHECKSUM_SIZES

# The checksums a ChecksumFrame can carry (tcpframe.framing.CHECKSUM_SIZES),
# each with its function and its size, for one lookup per frame.
cdef dict CHECKSUMS = {name: (getattr(checksums, name), size) for name, size in CHECKSUM_SIZES.items()}


cdef inline uint64_t read_unsigned(const unsigned char* p, Py_ssize_t size, bint big_endian) noexcept:
    """Return the unsigned ``size``-byte integer at ``p``."""
    cdef uint64_t value = 0
    cdef Py_ssize_t i
    if big_endian:
        for i in range(size):
            value = (value << 8) | p[i]
    else:
        for i in range(size - 1, -1, -1):
            value = (value << 8) | p[i]
    return value


cdef Py_ssize_t payload_size(ReceiveBuffer buffer, object prefix, Py_ssize_t size) except -2:
    """Return the payload size the buffered prefix declares, -1 if the
    prefix is not all buffered.

    Caller must pass ``size = prefix.size``.
    """
    if buffer.end - buffer.start < size:
        return -1
    cdef uint64_t length = read_unsigned(
        <const unsigned char*>buffer.storage + buffer.start, size, prefix.byteorder == "big"
    )
    if prefix.includes_prefix:
        if length < <uint64_t>size:
            raise FrameError(
                f"length prefix declares {length} bytes, fewer than the {size}-byte prefix itself"
            )
        length -= size
    cdef Py_ssize_t max_frame_size = prefix.max_frame_size
    if length > <uint64_t>max_frame_size:
        raise FrameError(
            f"length prefix declares a payload of {length} bytes, "
            f"more than max_frame_size={max_frame_size}"
        )
    return <Py_ssize_t>length


def take_length_prefixed(ReceiveBuffer buffer not None, prefix):
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
    cdef Py_ssize_t size = prefix.size
    cdef Py_ssize_t payload = payload_size(buffer, prefix, size)
    if payload < 0 or buffer.end - buffer.start - size < payload:
        return None
    buffer.consume(size)
    return buffer.take_bytes(payload)


def length_prefixed_nbytes(ReceiveBuffer buffer not None, prefix):
    """Return how many bytes the next length-prefixed frame needs buffered.

    That is the prefix size while the prefix is incomplete, then prefix
    plus payload.

    Raises
    ------
    tcpframe.FrameError
        As `take_length_prefixed`.
    """
    cdef Py_ssize_t size = prefix.size
    cdef Py_ssize_t payload = payload_size(buffer, prefix, size)
    return size if payload < 0 else size + payload


cdef object compute_checksum(object function, str name, const unsigned char* p, Py_ssize_t n):
    """Return the checksum ``name`` (computed by ``function``) of ``n`` bytes at ``p``.

    The 8-bit checksums are computed here: a loop costs less than a call.
    """
    if name == "sum8":
        return sum8_of(<const uint8_t*>p, n)
    if name == "xor8":
        return xor8_of(<const uint8_t*>p, n)
    view = PyMemoryView_FromMemory(<char*>p, n, PyBUF_READ)
    try:
        return function(view)
    finally:
        view.release()


def encode_checksummed(framing, body) -> bytes:
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
    cdef bytes data = bytes(body)
    cdef bytes start = framing.start
    cdef bytes covered = start + data if framing.covers_start else data
    cdef str name = framing.checksum
    function, checksum_size = CHECKSUMS[name]
    value = compute_checksum(
        function, name, <const unsigned char*>PyBytes_AS_STRING(covered), PyBytes_GET_SIZE(covered)
    )
    cdef Py_ssize_t width
    cdef uint64_t bits
    cdef bint uppercase
    cdef char* digits
    cdef Py_ssize_t i
    if framing.encoding == "hex":
        width = 2 * checksum_size
        bits = value
        uppercase = framing.uppercase
        field = PyBytes_FromStringAndSize(NULL, width)
        digits = PyBytes_AS_STRING(field)
        for i in range(width):
            digits[i] = hex_digit(<unsigned int>(bits >> (4 * (width - 1 - i))), uppercase)
    else:
        field = value.to_bytes(checksum_size, framing.byteorder)
    cdef bytes terminator = framing.terminator
    cdef bytes frame = b"".join((start, data, framing.separator, field, terminator))
    if frame.find(terminator) != PyBytes_GET_SIZE(frame) - PyBytes_GET_SIZE(terminator):
        raise FrameError(f"frame {frame!r} holds its terminator {terminator!r} before the end")
    return frame


def take_checksummed(ReceiveBuffer buffer not None, framing, Py_ssize_t limit):
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
    cdef Py_ssize_t index = buffer.locate_separator(framing.terminator, limit)
    if index < 0:
        return None
    cdef Py_ssize_t frame_size = index + PyBytes_GET_SIZE(buffer.scan_separator)
    cdef const unsigned char* frame = <const unsigned char*>buffer.storage + buffer.start
    cdef str name = framing.checksum
    function, checksum_size = CHECKSUMS[name]
    cdef bint hex_encoded = framing.encoding == "hex"
    cdef Py_ssize_t width = 2 * checksum_size if hex_encoded else checksum_size
    cdef bytes start = framing.start
    cdef bytes separator = framing.separator
    cdef Py_ssize_t start_size = PyBytes_GET_SIZE(start)
    cdef Py_ssize_t separator_size = PyBytes_GET_SIZE(separator)
    cdef Py_ssize_t checksum_start = index - width
    cdef Py_ssize_t body_end = checksum_start - separator_size

    if frame_size < start_size or memcmp(frame, PyBytes_AS_STRING(start), start_size):
        bad = buffer.take_bytes(frame_size)
        raise FrameError(f"frame does not start with {start!r}: {bad!r}", bad)
    if body_end < start_size:
        bad = buffer.take_bytes(frame_size)
        raise FrameError(f"frame is too short to hold a checksum: {bad!r}", bad)
    if memcmp(frame + body_end, PyBytes_AS_STRING(separator), separator_size):
        bad = buffer.take_bytes(frame_size)
        raise FrameError(f"no {separator!r} before the checksum: {bad!r}", bad)

    cdef uint64_t received = 0
    cdef Py_ssize_t i
    cdef int digit
    if hex_encoded:
        for i in range(checksum_start, index):
            digit = hex_value(frame[i])
            if digit < 0:
                field = PyBytes_FromStringAndSize(<const char*>frame + checksum_start, width)
                bad = buffer.take_bytes(frame_size)
                raise FrameError(f"checksum {field!r} is not {width} hex digits: {bad!r}", bad)
            received = (received << 4) | digit
    else:
        received = read_unsigned(frame + checksum_start, width, framing.byteorder == "big")

    cdef Py_ssize_t covered_start = 0 if framing.covers_start else start_size
    expected = compute_checksum(function, name, frame + covered_start, body_end - covered_start)
    if expected != received:
        bad = buffer.take_bytes(frame_size)
        raise ChecksumMismatchError(name, expected, received, bad)
    body = PyBytes_FromStringAndSize(<const char*>frame + start_size, body_end - start_size)
    buffer.consume(frame_size)
    return body

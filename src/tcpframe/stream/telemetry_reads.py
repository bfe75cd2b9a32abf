"""Reads beyond asyncio.StreamReader for high-rate telemetry, defined once
for `FrameReader` and for clients and servers: batch structs, and
asynchronous iteration over structs and frames."""

from __future__ import annotations

__all__ = ["TelemetryReads", "compiled_steps"]

import typing
from collections.abc import AsyncIterator, Awaitable, Callable

from .. import _kernels
from ..framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from .iteration import ReadIterator, struct_reader
from .records import new_records, records_view

T = typing.TypeVar("T")


class TelemetryReads:
    """Batch struct reads and iterators, written on the host's `read_into`,
    `read_frame` and `read_checksummed`.

    Mixed into `FrameReader` and into `~tcpframe.BaseClientOrServer`
    (through `~tcpframe.tcpip.telemetry_methods.TelemetryMethods`), so that
    both have the same methods with the same behaviour. A host also
    defines ``_ended_cleanly()``: True if the stream ended without an
    error and every byte was read, which ends an iteration whose read
    raised `ConnectionError`.
    """

    if typing.TYPE_CHECKING:
        # What a host provides (type checkers check that its definitions
        # match these).
        async def read_into(self, struct: typing.Any) -> None: ...

        async def read_frame(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> bytes: ...

        async def read_checksummed(self, framing: ChecksumFrame = NMEA) -> bytes: ...

        def _ended_cleanly(self) -> bool: ...

    async def read_many_into(self, records: typing.Any, count: int | None = None) -> None:
        """Fill the first ``count`` records of an array (all if None): all
        of them or none.

        As `read_into` of those records: one copy from the receive buffer,
        or none if the transport receives straight into them.

        Parameters
        ----------
        records : writable C-contiguous array
            A numpy structured array, a ctypes array of `ctypes.Structure`,
            ...; its first dimension counts the records.
        count : `int` or None, optional
            How many records to read; None for ``len(records)``.

        Raises
        ------
        ConnectionError
            If the connection is lost while reading (a client's or
            server's: also if not connected).
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        TypeError
            If ``records`` is not a writable array.
        ValueError
            If ``records`` is not C-contiguous or ``count`` is out of range.
        """
        with records_view(records, count) as target:
            await self.read_into(target)

    async def read_records(self, record_type: typing.Any, count: int) -> typing.Any:
        """Read ``count`` records into a new array and return it.

        Parameters
        ----------
        record_type : `ctypes.Structure` subclass or numpy dtype
            A ctypes type gives a ctypes array, anything else is passed to
            `numpy.dtype` and gives a numpy array.
        count : `int`
            Number of records.

        Raises
        ------
        ConnectionError
            If the connection is lost while reading (a client's or
            server's: also if not connected).
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        """
        records = new_records(record_type, count)
        await self.read_into(records)
        return records

    def iter_structs(self, struct: typing.Any) -> AsyncIterator[typing.Any]:
        """Iterate asynchronously over structs, as repeated `read_into` calls.

        Parameters
        ----------
        struct : `ctypes.Structure` subclass, or a writable buffer
            Given a type, each step returns a new instance of it. Given an
            instance (a struct, a numpy array of records, ...), each step
            fills it again and returns it: no allocation, but the previous
            contents are overwritten.

        The iteration ends when the stream ends cleanly between structs
        (the peer closed; for a client or server, also when this end
        closed). Anything else a read raises propagates, e.g.
        `asyncio.IncompleteReadError` for a struct cut short by EOF.
        """
        steps = ReadIterator(struct_reader(self.read_into, struct), self._ended_cleanly)
        return compiled_steps(steps, self.read_into, struct)

    def iter_frames(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> AsyncIterator[bytes]:
        """Iterate asynchronously over the payloads of length-prefixed
        frames, as repeated `read_frame` calls; ends as `iter_structs`
        does."""
        steps = ReadIterator(lambda: self.read_frame(prefix), self._ended_cleanly)
        return compiled_steps(steps, self.read_frame, prefix)

    def iter_checksummed(self, framing: ChecksumFrame = NMEA) -> AsyncIterator[bytes]:
        """Iterate asynchronously over the bodies of checksummed frames, as
        repeated `read_checksummed` calls; ends as `iter_structs` does.

        A bad frame raises and is consumed: iterating again continues
        with the next frame.
        """
        steps = ReadIterator(lambda: self.read_checksummed(framing), self._ended_cleanly)
        return compiled_steps(steps, self.read_checksummed, framing)


def compiled_steps(
    steps: AsyncIterator[T], read: Callable[..., Awaitable[typing.Any]], arg: typing.Any = None
) -> AsyncIterator[T]:
    """Return ``steps``, or with the compiled kernels an iterator over the
    same reads whose ``__anext__`` is compiled and takes a buffered
    message without a Python coroutine (``steps`` is its slow path).

    ``read`` is the host's read method that ``steps`` repeats, with its
    argument ``arg``; unless it is one of a client's or server's compiled
    reads, or one of `FrameReader`'s own (not a subclass's override),
    ``steps`` is returned.
    """
    if _kernels.awaitables is None:
        return steps
    compiled: AsyncIterator[T] = _kernels.awaitables.read_steps(steps, read, arg)
    return compiled

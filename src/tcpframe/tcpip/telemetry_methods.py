"""Client and server methods beyond lsst.ts.tcpip, for high-rate telemetry:
batch structs, length-prefixed and checksummed frames, async iteration."""

from __future__ import annotations

__all__ = ["TelemetryMethods"]

import typing
from collections.abc import AsyncIterator, Awaitable, Callable

from .. import _kernels
from ..framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from ..stream.iteration import ReadIterator, struct_reader
from ..stream.records import new_records, records_view

if typing.TYPE_CHECKING:
    from ..stream.reader import FrameReader

T = typing.TypeVar("T")


class TelemetryMethods:
    """Telemetry methods of `BaseClientOrServer`, which mixes this in.

    They are written on the host's public API alone: `read_into`,
    `read_str`, `read_json`, `read_frame`, `read_checksummed`,
    `write_from` and `reader`.
    """

    if typing.TYPE_CHECKING:
        # What BaseClientOrServer provides (type checkers check that its
        # definitions match these).
        @property
        def reader(self) -> FrameReader | None: ...

        async def read_into(self, struct: typing.Any) -> None: ...

        async def read_str(self) -> str: ...

        async def read_json(self) -> typing.Any: ...

        async def read_frame(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> bytes: ...

        async def read_checksummed(self, framing: ChecksumFrame = NMEA) -> bytes: ...

        async def write_from(self, *structs: typing.Any) -> None: ...

    async def read_many_into(self, records: typing.Any, count: int | None = None) -> None:
        """Fill the first ``count`` records of an array (all if None): all
        of them or none, in one copy from the receive buffer.

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
            If not connected, or the connection is lost while reading.
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
            If not connected, or the connection is lost while reading.
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        """
        records = new_records(record_type, count)
        await self.read_into(records)
        return records

    async def write_records(self, records: typing.Any) -> None:
        """Write a whole array of records (numpy, ctypes, ...) and drain.

        The same as ``write_from(records)``: any C-contiguous buffer goes
        out in one piece.

        Raises
        ------
        ConnectionError
            If not connected, or the connection is lost while writing.
        ValueError
            If ``records`` is not C-contiguous.
        """
        await self.write_from(records)

    def iter_lines(self) -> AsyncIterator[str]:
        """Iterate asynchronously over lines, as repeated `read_str` calls.

        The iteration ends when the connection ends cleanly between lines
        (the peer closed, or this end did); anything else a read raises propagates,
        e.g. `asyncio.IncompleteReadError` for a line cut short by EOF.
        """
        return _steps(ReadIterator(self.read_str, self._ended_cleanly), self.read_str)

    def iter_json(self) -> AsyncIterator[typing.Any]:
        """Iterate asynchronously over JSON lines, as repeated `read_json`
        calls; ends as `iter_lines` does."""
        return _steps(ReadIterator(self.read_json, self._ended_cleanly), self.read_json)

    def iter_structs(self, struct: typing.Any) -> AsyncIterator[typing.Any]:
        """Iterate asynchronously over structs, as repeated `read_into` calls.

        Parameters
        ----------
        struct : `ctypes.Structure` subclass, or a writable buffer
            Given a type, each step returns a new instance of it. Given an
            instance (a struct, a numpy array of records, ...), each step
            fills it again and returns it.

        Ends as `iter_lines` does.
        """
        steps = ReadIterator(struct_reader(self.read_into, struct), self._ended_cleanly)
        return _steps(steps, self.read_into, struct)

    def iter_frames(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> AsyncIterator[bytes]:
        """Iterate asynchronously over the payloads of length-prefixed
        frames, as repeated `read_frame` calls; ends as `iter_lines` does."""
        return _steps(ReadIterator(lambda: self.read_frame(prefix), self._ended_cleanly), self.read_frame, prefix)

    def iter_checksummed(self, framing: ChecksumFrame = NMEA) -> AsyncIterator[bytes]:
        """Iterate asynchronously over the bodies of checksummed frames, as
        repeated `read_checksummed` calls; ends as `iter_lines` does.

        A bad frame raises and is consumed: iterating again continues
        with the next frame.
        """
        steps = ReadIterator(lambda: self.read_checksummed(framing), self._ended_cleanly)
        return _steps(steps, self.read_checksummed, framing)

    def _ended_cleanly(self) -> bool:
        """True if the peer closed without an error and every byte was read."""
        reader = self.reader
        return reader is not None and reader.at_eof() and reader.exception() is None


def _steps(
    steps: ReadIterator[T], read: Callable[..., Awaitable[typing.Any]], arg: typing.Any = None
) -> AsyncIterator[T]:
    """Return ``steps``, or with the compiled kernels an iterator over the
    same reads whose ``__anext__`` is compiled and takes a buffered
    message without a Python coroutine (``steps`` is its slow path).

    ``read`` is the host's read method that ``steps`` repeats, with its
    argument ``arg``; if a subclass overrides it, ``steps`` is returned.
    """
    if _kernels.awaitables is None:
        return steps
    compiled: AsyncIterator[T] = _kernels.awaitables.read_steps(steps, read, arg)
    return compiled

"""The reading half of a tcpframe connection, with the asyncio.StreamReader API."""

from __future__ import annotations

__all__ = ["DEFAULT_LIMIT", "FrameReader"]

import asyncio
import typing

from ._kernels import frames, receive_buffer, structs
from .frames import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from .iteration import ReadIterator, struct_reader
from .records import new_records, records_view

if typing.TYPE_CHECKING:
    from .protocol import FrameProtocol

# Same default line limit as asyncio streams.
DEFAULT_LIMIT = 2**16

# Receiving pauses when this many bytes are buffered and unread (or more,
# if a pending read needs more), and resumes when a read finds too few
# bytes, or when a read through the reader leaves at most a quarter of it.
DEFAULT_HIGH_WATER = 2**20


class FrameReader:
    """Read bytes, lines and structs from one connection.

    Offers the reading API of `asyncio.StreamReader` with the same
    semantics, limits and exceptions, plus `read_into`, batch struct reads
    (`read_many_into`, `read_records`), length-prefixed and checksummed
    frames (`read_frame`, `read_checksummed`) and asynchronous iteration
    over lines, structs and frames (`iter_lines`, ...). Bytes arrive in a
    compiled `ReceiveBuffer` fed by `FrameProtocol`. A read whose bytes are
    already buffered returns without waiting; a blocked read is woken once,
    when what it needs has arrived or the connection ended.

    Parameters
    ----------
    limit : `int`, optional
        Maximum length of a line or separated chunk, as for
        `asyncio.StreamReader`.
    high_water : `int`, optional
        Stop receiving from the socket above this many unread bytes;
        resume when a read needs more than is buffered, or a read leaves
        at most a quarter of it.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT, high_water: int = DEFAULT_HIGH_WATER) -> None:
        if limit <= 0:
            raise ValueError("Limit cannot be <= 0")
        # Maximum length of a line or separated chunk, as for
        # asyncio.StreamReader. An attribute, not a property: clients read
        # it on every buffered line.
        self.limit = limit
        self._high_water = max(high_water, 2 * limit)
        self._low_water = self._high_water // 4
        self._buffer = receive_buffer.ReceiveBuffer()
        self._eof = False
        self._exception: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wanted_nbytes = 0
        self._wanted_separator: bytes | None = None
        self._protocol: FrameProtocol | None = None
        self._paused = False
        self._connection_closing = False
        # The receive buffer while reads may take from it with no further
        # checks (no error, connection not closing); else None. Clients
        # read already-buffered data through it. Reads through it never
        # resume receiving: that waits until a read finds too few bytes.
        self.direct_buffer: receive_buffer.ReceiveBuffer | None = self._buffer

    def __repr__(self) -> str:
        state = [f"{len(self._buffer)} bytes"]
        if self._eof:
            state.append("eof")
        if self._exception is not None:
            state.append(f"exception={self._exception!r}")
        if self._paused:
            state.append("paused")
        return f"<FrameReader {' '.join(state)}>"

    # Feeding, called by FrameProtocol (or by hand, as with StreamReader).

    def set_protocol(self, protocol: FrameProtocol) -> None:
        """Attach the protocol that feeds this reader."""
        self._protocol = protocol

    def feed_data(self, data: bytes) -> None:
        """Append received bytes (for use without a transport)."""
        if self._eof:
            raise RuntimeError("feed_data after feed_eof")
        self._buffer.feed(data)
        self.data_received()

    def data_received(self) -> None:
        """Note that bytes were added to the buffer: pause or wake."""
        if not self._paused and len(self._buffer) > max(self._high_water, self._wanted_nbytes):
            self._pause_receiving()
        if self._waiter is not None and self._wanted_data_arrived():
            self._wake_waiter()

    def feed_eof(self) -> None:
        """Note that the peer will send no more bytes."""
        self._eof = True
        self._wake_waiter()

    def set_exception(self, exc: BaseException) -> None:
        """Make every read raise ``exc`` (the connection failed)."""
        self._exception = exc
        self._update_direct_buffer()
        waiter = self._take_waiter()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    # The StreamReader API.

    @property
    def eof_received(self) -> bool:
        """True once the peer has sent EOF (bytes may still be buffered)."""
        return self._eof

    def at_eof(self) -> bool:
        """Return True if the peer closed and every byte has been read."""
        return self._eof and not len(self._buffer)

    def exception(self) -> BaseException | None:
        """Return the exception that ended the connection, if any."""
        return self._exception

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes; all bytes until EOF if ``n`` is negative.

        Returns b"" at EOF.
        """
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            blocks = []
            while block := await self.read(self.limit):
                blocks.append(block)
            return b"".join(blocks)
        # A loop: another read may take the bytes that woke this one.
        while not len(self._buffer) and not self._eof:
            await self._wait_for_data("read", 1)
        data = self._buffer.take(n)
        self._maybe_resume_receiving()
        return data

    def readexactly_nowait(self, n: int) -> bytes | None:
        """Return exactly ``n`` bytes if they are buffered, else None.

        Never waits; consumes nothing when it returns None.
        """
        if self._exception is not None:
            raise self._exception
        data = self._buffer.take_exactly(n)
        if self._paused:
            self._maybe_resume_receiving()
        return data

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes.

        Raises
        ------
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        ValueError
            If ``n`` is negative.
        """
        while (data := self.readexactly_nowait(n)) is None:
            if self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), n)
            await self._wait_for_data("readexactly", n)
        return data

    def readuntil_nowait(self, separator: bytes = b"\n") -> bytes | None:
        """Return the bytes through ``separator`` if it is buffered, else None.

        Never waits; consumes nothing when it returns None.

        Raises
        ------
        asyncio.LimitOverrunError
            As `readuntil`.
        """
        if self._exception is not None:
            raise self._exception
        chunk = self._buffer.take_until(separator, self.limit)
        if self._paused:
            self._maybe_resume_receiving()
        return chunk

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read through the first ``separator``; return it included.

        Raises
        ------
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds all unread bytes.
        asyncio.LimitOverrunError
            If the separator is not within `limit` bytes; the bytes stay
            buffered and can be read again.
        """
        while (chunk := self.readuntil_nowait(separator)) is None:
            if self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), None)
            await self._wait_for_data("readuntil", 0, separator)
        return chunk

    async def readline(self) -> bytes:
        """Read through the next ``\\n``; at EOF return what is left.

        Raises
        ------
        ValueError
            If the line is longer than `limit`; the overlong line is
            discarded, as `asyncio.StreamReader.readline` does.
        """
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            return e.partial
        except asyncio.LimitOverrunError as e:
            if self._buffer.peek(e.consumed + 1)[e.consumed :] == b"\n":
                self._buffer.skip(e.consumed + 1)
            else:
                self._buffer.clear()
            self._maybe_resume_receiving()
            raise ValueError(e.args[0]) from None

    def read_into_nowait(self, struct: typing.Any) -> bool:
        """Fill ``struct`` from buffered bytes if enough are buffered.

        Never waits. Returns True if ``struct`` was filled, False (and
        consumes nothing) if fewer bytes than its size are buffered.
        """
        if self._exception is not None:
            raise self._exception
        if self._buffer.copy_into(struct):
            if self._paused:
                self._maybe_resume_receiving()
            return True
        return False

    async def read_into(self, struct: typing.Any) -> None:
        """Fill ``struct`` with the next bytes: all of it or nothing.

        Parameters
        ----------
        struct : `ctypes.Structure` or other writable C-contiguous buffer
            The struct (or bytearray, numpy array, ...) to fill.

        Raises
        ------
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        TypeError
            If ``struct`` is not a writable buffer.
        ValueError
            If ``struct`` is not C-contiguous.
        """
        if self.read_into_nowait(struct):
            return
        nbytes = structs.writable_nbytes(struct)
        while not self.read_into_nowait(struct):
            if self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), nbytes)
            await self._wait_for_data("read_into", nbytes)

    # Batch structs, frames and iteration: beyond asyncio.StreamReader.

    async def read_many_into(self, records: typing.Any, count: int | None = None) -> None:
        """Fill the first ``count`` records of an array: all of them or none.

        The bytes go from the receive buffer straight into ``records`` in
        one copy, as with `read_into`.

        Parameters
        ----------
        records : writable C-contiguous array
            A numpy structured array, a ctypes array of `ctypes.Structure`,
            ...; its first dimension counts the records.
        count : `int` or None, optional
            How many records to read; None for ``len(records)``.

        Raises
        ------
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
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        """
        records = new_records(record_type, count)
        await self.read_into(records)
        return records

    def read_frame_nowait(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> bytes | None:
        """Return the payload of the next length-prefixed frame if it is
        buffered, else None.

        Never waits; consumes nothing when it returns None.

        Raises
        ------
        tcpframe.FrameError
            As `read_frame`.
        """
        if self._exception is not None:
            raise self._exception
        payload = frames.take_length_prefixed(self._buffer, prefix)
        if self._paused:
            self._maybe_resume_receiving()
        return payload

    async def read_frame(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> bytes:
        """Read the next length-prefixed frame and return its payload.

        A blocked read wakes once its prefix has arrived (if it had not),
        then once when the whole frame has.

        Parameters
        ----------
        prefix : `tcpframe.LengthPrefix`, optional
            The length prefix; by default 4 bytes, big-endian, counting
            the payload only.

        Raises
        ------
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came
            (prefix included) and ``expected`` the whole frame's size, or
            the prefix size if the prefix is incomplete.
        tcpframe.FrameError
            If the prefix declares more than ``prefix.max_frame_size``
            bytes (or, counting itself, less than its own size). The
            prefix is left unread, so every later read raises this again:
            the stream cannot be resynchronised, close the connection.
        """
        while (payload := self.read_frame_nowait(prefix)) is None:
            nbytes = frames.length_prefixed_nbytes(self._buffer, prefix)
            if self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), nbytes)
            await self._wait_for_data("read_frame", nbytes)
        return payload

    def read_checksummed_nowait(self, framing: ChecksumFrame = NMEA) -> bytes | None:
        """Return the body of the next checksummed frame if it is buffered,
        else None.

        Never waits; consumes nothing when it returns None.

        Raises
        ------
        asyncio.LimitOverrunError, tcpframe.FrameError
            As `read_checksummed`.
        """
        if self._exception is not None:
            raise self._exception
        try:
            return frames.take_checksummed(self._buffer, framing, self.limit)
        finally:
            if self._paused:
                self._maybe_resume_receiving()

    async def read_checksummed(self, framing: ChecksumFrame = NMEA) -> bytes:
        """Read the next checksummed frame, verify it and return its body.

        Parameters
        ----------
        framing : `tcpframe.ChecksumFrame`, optional
            Layout and checksum of the frames; by default an NMEA 0183
            sentence, ``$<body>*hh\\r\\n``.

        Raises
        ------
        asyncio.IncompleteReadError
            If EOF comes before the terminator; ``partial`` holds all
            unread bytes.
        asyncio.LimitOverrunError
            If the terminator is not within `limit` bytes; the bytes stay
            buffered, as with `readuntil`.
        tcpframe.ChecksumMismatchError
            If the checksum does not match; it names the expected and
            received values. The frame is consumed, so the next read
            starts at the next frame.
        tcpframe.FrameError
            If the frame lacks its start marker or separator or its hex
            checksum is not hex digits. The frame is consumed.
        """
        while (body := self.read_checksummed_nowait(framing)) is None:
            if self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), None)
            await self._wait_for_data("read_checksummed", 0, framing.terminator)
        return body

    def iter_lines(self, separator: bytes = b"\n") -> ReadIterator[bytes]:
        """Iterate asynchronously over lines ending in ``separator``.

        Each line is returned with its separator, as by `readuntil`. The
        iteration ends at EOF; bytes left after the last separator raise
        `asyncio.IncompleteReadError` (iterating over the reader itself,
        ``async for line in reader``, returns them instead, as
        `asyncio.StreamReader` does).
        """
        return ReadIterator(lambda: self.readuntil(separator))

    def iter_structs(self, struct: typing.Any) -> ReadIterator[typing.Any]:
        """Iterate asynchronously over structs read from the stream.

        Parameters
        ----------
        struct : `ctypes.Structure` subclass, or a writable buffer
            Given a type, each step returns a new instance of it. Given an
            instance (a struct, a numpy array of records, ...), each step
            fills it again and returns it: no allocation, but the previous
            contents are overwritten.

        The iteration ends at EOF; a struct cut short by EOF raises
        `asyncio.IncompleteReadError`.
        """
        return ReadIterator(struct_reader(self.read_into, struct))

    def iter_frames(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> ReadIterator[bytes]:
        """Iterate asynchronously over the payloads of length-prefixed frames.

        As repeated `read_frame` calls; the iteration ends at EOF, and a
        frame cut short by EOF raises `asyncio.IncompleteReadError`.
        """
        return ReadIterator(lambda: self.read_frame(prefix))

    def iter_checksummed(self, framing: ChecksumFrame = NMEA) -> ReadIterator[bytes]:
        """Iterate asynchronously over the bodies of checksummed frames.

        As repeated `read_checksummed` calls; a bad frame raises and is
        consumed, so iterating again continues with the next frame. The
        iteration ends at EOF; a frame cut short by EOF raises
        `asyncio.IncompleteReadError`.
        """
        return ReadIterator(lambda: self.read_checksummed(framing))

    def __aiter__(self) -> FrameReader:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # Waiting and flow control.

    async def _wait_for_data(self, func_name: str, nbytes: int, separator: bytes | None = None) -> None:
        """Wait until ``nbytes`` are buffered, ``separator`` is, or EOF.

        Caller must have checked that the wanted data is not buffered yet.
        """
        if self._waiter is not None:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for incoming data"
            )
        protocol = self._protocol
        if protocol is not None:
            # About to block: send what this task wrote, so a request goes
            # out before we wait for its reply.
            protocol.flush_writes()
        self._wanted_nbytes = nbytes
        self._wanted_separator = separator
        if self._paused:
            self._resume_receiving()
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            # Unless the data, EOF or an error woke this read (and so
            # unregistered it): then another read may have started waiting
            # before this one ran, and its waiter stays.
            if self._waiter is waiter:
                self._take_waiter()

    def _wanted_data_arrived(self) -> bool:
        separator = self._wanted_separator
        if separator is None:
            return len(self._buffer) >= self._wanted_nbytes
        return (
            self._buffer.find(separator) >= 0
            or len(self._buffer) + 1 - len(separator) > self.limit
        )

    def _wake_waiter(self) -> None:
        waiter = self._take_waiter()
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _take_waiter(self) -> asyncio.Future[None] | None:
        """Unregister the waiting read, if any, and return its future."""
        waiter = self._waiter
        self._waiter = None
        self._wanted_nbytes = 0
        self._wanted_separator = None
        return waiter

    def note_connection_closing(self) -> None:
        """Note that the connection is closing or lost (at either end)."""
        self._connection_closing = True
        self._update_direct_buffer()

    def _update_direct_buffer(self) -> None:
        usable = self._exception is None and not self._connection_closing
        self.direct_buffer = self._buffer if usable else None

    def _pause_receiving(self) -> None:
        if self._protocol is not None and self._protocol.pause_receiving():
            self._paused = True

    def _resume_receiving(self) -> None:
        self._paused = False
        if self._protocol is not None:
            self._protocol.resume_receiving()

    def _maybe_resume_receiving(self) -> None:
        if self._paused and len(self._buffer) <= self._low_water:
            self._resume_receiving()


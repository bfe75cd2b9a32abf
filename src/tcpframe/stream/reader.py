"""The reading half of a tcpframe connection, with the asyncio.StreamReader API."""

from __future__ import annotations

__all__ = ["DEFAULT_LIMIT", "DIRECT_RECEIVE_MIN", "FrameReader", "PushSink", "ReceiveFlow"]

import asyncio
import time
import typing
from collections.abc import AsyncIterator, Callable

from .. import _kernels
from .._kernels import frames, receive_buffer, structs
from ..framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from .connection import ConnectionState
from .iteration import ReadIterator
from .telemetry_reads import TelemetryReads, compiled_steps

if typing.TYPE_CHECKING:
    from .._kernels.awaitables_compiled import ReadPort

# Same default line limit as asyncio streams.
DEFAULT_LIMIT = 2**16

# Receiving pauses when this many bytes are buffered and unread (or more,
# if a pending read needs more), and resumes when a read must wait, or
# when a waiting read leaves at most a quarter of it.
DEFAULT_HIGH_WATER = 2**20

# A read that fills a caller's buffer and lacks at least this many bytes
# lets the transport receive straight into that buffer.
DIRECT_RECEIVE_MIN = 2**16


class ReceiveFlow(typing.Protocol):
    """What a `FrameReader` asks of the protocol that feeds it."""

    def pause_receiving(self) -> bool:
        """Stop reading from the socket; return False if it cannot be."""

    def resume_receiving(self) -> None:
        """Start reading from the socket again."""

    def flush_writes(self) -> None:
        """Send what the connection's writer holds: a read is about to wait."""

    def receive_now(self) -> bool | None:
        """Receive what the socket holds without waiting: True if bytes
        came, False if none were waiting, None if it cannot."""


class PushSink(typing.Protocol):
    """What a `FrameReader` asks of the push attached to it
    (`tcpframe.stream.push.Push`)."""

    def data_received(self) -> None:
        """Bytes were added to the reader's buffer."""

    def state_changed(self, state: ConnectionState) -> None:
        """The connection's state changed to ``state``."""


class FrameReader(TelemetryReads):
    """Read bytes, lines and structs from one connection.

    Offers the reading API of `asyncio.StreamReader` with the same
    semantics, limits and exceptions, plus `read_into`, decoded lines
    (`read_line`), batch struct reads
    (`read_many_into`, `read_records`), length-prefixed and checksummed
    frames (`read_frame`, `read_checksummed`) and asynchronous iteration
    over lines, structs and frames (`iter_lines`, ...).

    Each read has two halves. ``try_<read>`` (`try_read_into`,
    `try_readexactly`, `try_readuntil`, `try_read_frame`,
    `try_read_checksummed`, `try_read_line`) takes the message now if it
    is buffered and the connection is usable (no error, not closing), and
    otherwise returns None (False for `try_read_into`) and consumes
    nothing; it never waits and never raises for the connection's state,
    only for the message (e.g. `asyncio.LimitOverrunError`). The
    coroutine ``<read>`` calls it and, if it took nothing, waits with the
    `asyncio.StreamReader` rules: woken once, when what it needs has
    arrived or the connection ended. Clients and servers call the
    ``try_`` half themselves, so that a buffered message costs one call:
    while the connection is usable, the four hottest takes
    (`try_read_into`, `try_readexactly`, `try_readuntil`, `try_read_line`)
    are shadowed on the instance by the kernels' own bound methods, which
    behave as the methods of the class do then (see ``_route_takes``).

    A read that fills a caller's buffer (`read_into`, `read_many_into`,
    `read_records`) and lacks at least `DIRECT_RECEIVE_MIN` bytes moves
    what is buffered into it and lets the transport receive straight into
    the rest (`get_buffer`): the bytes are copied once, by the kernel. If
    such a read is cancelled or the connection fails, the bytes it
    received are put back in front of the buffer, so none is lost (the
    buffer's contents are then undefined); at EOF they are
    `asyncio.IncompleteReadError.partial`.

    Parameters
    ----------
    limit : `int`, optional
        Maximum length of a line or separated chunk, as for
        `asyncio.StreamReader`.
    high_water : `int`, optional
        Stop receiving from the socket above this many unread bytes;
        resume when a read must wait, or a waiting read leaves at most a
        quarter of it.
    state : `ConnectionState`, optional
        The connection's state, shared with its protocol and writer; a new
        one by default (a reader fed by hand).
    flow : `ReceiveFlow`, optional
        The protocol that feeds this reader; None for one fed by hand.

    """

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        high_water: int = DEFAULT_HIGH_WATER,
        *,
        state: ConnectionState | None = None,
        flow: ReceiveFlow | None = None,
    ) -> None:
        if limit <= 0:
            raise ValueError("Limit cannot be <= 0")
        self._limit = limit
        self._high_water = max(high_water, 2 * limit)
        self._low_water = self._high_water // 4
        self._buffer = receive_buffer.ReceiveBuffer()
        self._state = ConnectionState() if state is None else state
        self._state.subscribe(self._state_changed)
        self._flow = flow
        self._paused = False
        # The waiting read, if any: its future and what wakes it.
        self._waiter: asyncio.Future[None] | None = None
        self._wanted_nbytes = 0
        self._wanted_separator: bytes | None = None
        # The caller's buffer a read is receiving straight into, if any,
        # how much of it is filled, and whether the last get_buffer
        # offered it.
        self._target: memoryview | None = None
        self._target_filled = 0
        self._offered_target = False
        self._separated = receive_buffer.SeparatedTakes(self._buffer, limit)
        self._usable = True
        self._read_port = None if _kernels.awaitables is None else _kernels.awaitables.ReadPort(self._separated)
        self._busy_poll_us = 0.0
        # The push attached to this reader, if any (tcpframe.stream.push):
        # it takes every received byte, and reads refuse to run.
        self._push: PushSink | None = None
        self._route_takes()

    def __repr__(self) -> str:
        state = [f"{len(self._buffer)} bytes"]
        if self._eof:
            state.append("eof")
        if self.exception() is not None:
            state.append(f"exception={self.exception()!r}")
        if self._paused:
            state.append("paused")
        return f"<FrameReader {' '.join(state)}>"

    @property
    def limit(self) -> int:
        """Maximum length of a line or separated chunk."""
        return self._limit

    @property
    def buffered(self) -> int:
        """Number of bytes received and not yet read."""
        return len(self._buffer)

    @property
    def read_port(self) -> ReadPort | None:
        """What the compiled reads of this reader's client or server, and
        compiled iterations over this reader, take from
        (`~tcpframe._kernels.awaitables_compiled.ReadPort`, kept current
        by this reader); None with the pure-Python twins."""
        return self._read_port

    @property
    def state(self) -> ConnectionState:
        """The connection's state, shared with its protocol and writer."""
        return self._state

    @property
    def busy_poll_us(self) -> float:
        """How long (µs) a read that must wait polls before it sleeps; 0
        (the default) for never.

        When a read finds too few bytes buffered, it sends what the
        connection's writer holds and then, for up to this long, polls
        instead of sleeping in the event loop: each turn it receives what
        the socket holds without waiting (a non-blocking ``readv`` into
        the reader's memory, as the transport would receive it) and
        yields with ``await asyncio.sleep(0)``, so the loop polls its
        other sockets without blocking and runs every other task that is
        ready; the read returns as soon as its bytes have arrived. Only
        then does it sleep until woken, as without busy polling. A reply
        that arrives within the budget is read without the loop ever
        blocking, which saves the wake-up of an idle CPU (about 100 µs on
        a virtual machine) per round trip; in exchange the read burns a
        core for up to this long at every wait. On every event loop; over
        TLS the socket carries encrypted records, so there the turns
        leave receiving to the loop's own TLS transport (slower to notice
        a reply, same results). EOF and errors end a polling read as they
        end a sleeping one.

        Raises
        ------
        ValueError
            If set to a negative number.
        """
        return self._busy_poll_us

    @busy_poll_us.setter
    def busy_poll_us(self, busy_poll_us: float) -> None:
        if not busy_poll_us >= 0:
            raise ValueError(f"busy_poll_us={busy_poll_us!r} must be >= 0")
        self._busy_poll_us = float(busy_poll_us)

    @property
    def _eof(self) -> bool:
        return self._state.receiving_ended

    # Feeding: the protocol's get_buffer / buffer_updated, or by hand.

    def get_buffer(self, sizehint: int) -> memoryview:
        """Return the memory the transport should receive into next: the
        unfilled rest of a read's target, else the receive buffer's.

        ``sizehint`` is not passed on: the receive buffer sizes receives by
        its memory rule (`tcpframe.receive_sizes`), and the transports'
        hints (64 KiB from uvloop, 256 KiB over TLS) would make every
        connection, idle or not, hold that much.
        """
        target = self._target
        if target is not None and self._target_filled < len(target):
            self._offered_target = True
            return target[self._target_filled :]
        self._offered_target = False
        return self._buffer.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        """Note that ``nbytes`` were received into the last `get_buffer`."""
        if self._offered_target:
            self._offered_target = False
            self._target_filled += nbytes
            if self._target is not None and self._target_filled == len(self._target):
                self._wake_waiter()
            return
        self._buffer.buffer_updated(nbytes)
        if self._push is not None:
            self._push.data_received()
            return
        self._data_received()

    def feed_data(self, data: bytes) -> None:
        """Append received bytes (for use without a transport)."""
        if self._eof:
            raise RuntimeError("feed_data after feed_eof")
        self._buffer.feed(data)
        if self._push is not None:
            self._push.data_received()
            return
        self._data_received()

    def feed_eof(self) -> None:
        """Note that the peer will send no more bytes."""
        self._state.note_peer_closed()

    def set_exception(self, exc: BaseException) -> None:
        """Make every read raise ``exc`` (the connection failed)."""
        self._state.note_failed(exc)

    # Push (tcpframe.stream.push).

    @property
    def receive_buffer(self) -> receive_buffer.ReceiveBuffer:
        """The buffer of received, unread bytes (for `tcpframe.stream.push`)."""
        return self._buffer

    def attach_push(self, push: PushSink) -> None:
        """Hand every received byte to ``push`` until `detach_push`: reads
        raise `RuntimeError` meanwhile.

        Raises
        ------
        RuntimeError
            If a push is attached already, or a read is waiting.
        """
        if self._push is not None:
            raise RuntimeError("A push is already attached to this reader")
        if self._waiter is not None:
            raise RuntimeError("Cannot push while a read is waiting for incoming data")
        self._push = push
        self._state_changed()

    def detach_push(self, push: PushSink) -> None:
        """Detach ``push`` (if attached): reads run again, from the first
        byte it did not take, and receiving resumes."""
        if self._push is not push:
            return
        self._push = None
        self._state_changed()
        if self._paused:
            self._resume_receiving()

    def pause_receiving(self) -> None:
        """Stop receiving from the socket (a push's callback is busy)."""
        if not self._paused:
            self._pause_receiving()

    def resume_receiving(self) -> None:
        """Receive from the socket again, after `pause_receiving`."""
        if self._paused:
            self._resume_receiving()

    # The StreamReader API.

    @property
    def eof_received(self) -> bool:
        """True once the peer has sent EOF (bytes may still be buffered)."""
        return self._state.peer_closed

    def at_eof(self) -> bool:
        """Return True if no more bytes will come and every byte has been read."""
        return self._eof and not len(self._buffer)

    def exception(self) -> BaseException | None:
        """Return the exception that ended the connection, if any."""
        return self._state.exception

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes; all bytes until EOF if ``n`` is negative.

        Returns b"" at EOF.
        """
        self._raise_if_failed()
        if n == 0:
            return b""
        if n < 0:
            blocks = []
            while block := await self.read(self._limit):
                blocks.append(block)
            return b"".join(blocks)
        # A loop: another read may take the bytes that woke this one.
        while not len(self._buffer) and not self._eof:
            await self._wait_for("read", 1)
        data = self._buffer.take(n)
        self._took()
        return data

    def try_readexactly(self, n: int) -> bytes | None:
        """`readexactly` if ``n`` bytes are buffered and the connection is
        usable, else None (nothing is consumed).

        Raises
        ------
        ValueError
            If ``n`` is negative.
        """
        if self._usable:
            return self._buffer.take_exactly(n)
        return None

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes.

        Raises
        ------
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds the bytes that came.
        ValueError
            If ``n`` is negative.
        """
        data = self.try_readexactly(n)
        while data is None:
            await self._wait_for("readexactly", n)
            data = self._buffer.take_exactly(n)
            if data is None and self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), n)
        self._took()
        return data

    def try_readuntil(self, separator: bytes) -> bytes | None:
        """`readuntil` if ``separator`` is buffered and the connection is
        usable, else None (nothing is consumed).

        Raises
        ------
        asyncio.LimitOverrunError
            As `readuntil`; nothing is consumed.
        """
        if self._usable:
            return self._separated.take_until(separator)
        return None

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
        chunk = self.try_readuntil(separator)
        while chunk is None:
            await self._wait_for("readuntil", 0, separator)
            chunk = self._buffer.take_until(separator, self._limit)
            if chunk is None and self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), None)
        self._took()
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
            self._took()
            raise ValueError(e.args[0]) from None

    def try_read_line(self, separator: bytes, encoding: str) -> str | None:
        """`read_line` if a whole line is buffered and the connection is
        usable, else None (nothing is consumed).

        `readuntil` and a decode in one step, with no intermediate `bytes`.

        Raises
        ------
        asyncio.LimitOverrunError
            As `readuntil`; nothing is consumed.
        UnicodeDecodeError
            If the line is not valid in ``encoding``; the line is consumed.
        """
        if self._usable:
            return self._separated.take_line(separator, encoding)
        return None

    async def read_line(self, separator: bytes = b"\n", encoding: str | Callable[[], str] = "utf-8") -> str:
        """Read through the next ``separator``; return the line decoded
        (strict) and without it.

        As `readuntil` followed by a decode, with no intermediate `bytes`
        (a client's `~tcpframe.Client.read_str`).

        Parameters
        ----------
        separator : `bytes`, optional
            The line's end.
        encoding : `str` or callable, optional
            The encoding, or a function that returns it, called when the
            line is taken: a client decodes each line with the encoding
            in force when it came, which may change while a read waits.

        Raises
        ------
        asyncio.IncompleteReadError
            If EOF comes first; ``partial`` holds all unread bytes.
        asyncio.LimitOverrunError
            If the separator is not within `limit` bytes; the bytes stay
            buffered and can be read again.
        UnicodeDecodeError
            If the line is not valid in ``encoding``; the line is consumed.
        LookupError
            If ``encoding`` is no known codec.
        """
        line = self.try_read_line(separator, encoding if isinstance(encoding, str) else encoding())
        while line is None:
            await self._wait_for("read_line", 0, separator)
            try:
                line = self._buffer.take_line(
                    separator, self._limit, encoding if isinstance(encoding, str) else encoding()
                )
            finally:
                self._took()
            if line is None and self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), None)
        return line

    def try_read_into(self, struct: typing.Any) -> bool:
        """`read_into` if enough bytes are buffered and the connection is
        usable: fill ``struct`` and return True; else return False (nothing
        is consumed).

        Raises
        ------
        TypeError
            If ``struct`` is not a writable buffer.
        ValueError
            If ``struct`` is not C-contiguous.
        """
        if self._usable:
            return self._buffer.copy_into(struct)
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
        if self.try_read_into(struct):
            return
        with structs.writable_view(struct) as view, view.cast("B") as target:
            nbytes = len(target)
            while True:
                self._raise_if_failed()
                if self._buffer.copy_into(target):
                    self._took()
                    return
                if self._eof:
                    raise asyncio.IncompleteReadError(self._buffer.take(), nbytes)
                # Only a transport (a flow) can receive into the target.
                if nbytes - len(self._buffer) >= DIRECT_RECEIVE_MIN and self._flow is not None:
                    await self._receive_into(target)
                    return
                await self._wait_for("read_into", nbytes)

    # Frames and iteration: beyond asyncio.StreamReader (batch structs
    # and the other iterators are TelemetryReads').

    def try_read_frame(self, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> bytes | None:
        """`read_frame` if the whole frame is buffered, else None.

        Raises
        ------
        tcpframe.FrameError
            As `read_frame`.
        """
        if self._usable:
            return frames.take_length_prefixed(self._buffer, prefix)
        return None

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
        payload = self.try_read_frame(prefix)
        while payload is None:
            nbytes = frames.length_prefixed_nbytes(self._buffer, prefix)
            await self._wait_for("read_frame", nbytes)
            payload = frames.take_length_prefixed(self._buffer, prefix)
            if payload is None and self._eof:
                nbytes = frames.length_prefixed_nbytes(self._buffer, prefix)
                raise asyncio.IncompleteReadError(self._buffer.take(), nbytes)
        self._took()
        return payload

    def try_read_checksummed(self, framing: ChecksumFrame = NMEA) -> bytes | None:
        """`read_checksummed` if the whole frame is buffered, else None.

        Raises
        ------
        asyncio.LimitOverrunError, tcpframe.FrameError
            As `read_checksummed`.
        """
        if self._usable:
            return frames.take_checksummed(self._buffer, framing, self._limit)
        return None

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
        body = self.try_read_checksummed(framing)
        while body is None:
            await self._wait_for("read_checksummed", 0, framing.terminator)
            try:
                body = frames.take_checksummed(self._buffer, framing, self._limit)
            finally:
                self._took()
            if body is None and self._eof:
                raise asyncio.IncompleteReadError(self._buffer.take(), None)
        return body

    def iter_lines(self, separator: bytes = b"\n") -> AsyncIterator[bytes]:
        """Iterate asynchronously over lines ending in ``separator``, as
        repeated `readuntil` calls: each line is `bytes`, with its
        separator.

        The iteration ends at EOF; bytes left after the last separator raise
        `asyncio.IncompleteReadError`. (``async for line in reader``
        iterates over `readline` instead, as for `asyncio.StreamReader`:
        it returns those bytes as a last line. A client's
        `~tcpframe.Client.iter_lines` gives `str` lines, as `read_str`.)
        """
        return compiled_steps(ReadIterator(lambda: self.readuntil(separator)), self.readuntil, separator)

    def _ended_cleanly(self) -> bool:
        """True if the peer closed without an error and every byte was read."""
        return self.at_eof() and self.exception() is None

    def __aiter__(self) -> AsyncIterator[bytes]:
        # Itself, or with the compiled kernels an iterator whose steps take
        # a buffered line without a coroutine (this __anext__ otherwise).
        return compiled_steps(self, self.readline)

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # Waiting.

    async def _wait_for(self, func_name: str, nbytes: int, separator: bytes | None = None) -> None:
        """Return once ``nbytes`` are buffered, ``separator`` is (or the
        bytes break the limit), no more bytes will come, or the
        connection failed (then raise its exception).

        Returns at once if that is so already; otherwise waits, woken once.
        """
        self._raise_if_failed()
        if self._eof or self._data_arrived(nbytes, separator):
            return
        waiter = self._new_waiter(func_name)
        self._wanted_nbytes = nbytes
        self._wanted_separator = separator
        try:
            if self._busy_poll_us:
                await self._busy_poll(waiter)
            await waiter
        finally:
            # Unless the data, EOF or an error woke this read (and so
            # unregistered it): then another read may have started waiting
            # before this one ran, and its waiter stays.
            if self._waiter is waiter:
                self._take_waiter()

    async def _receive_into(self, target: memoryview) -> None:
        """Fill ``target`` with what is buffered, then let the transport
        receive the rest straight into it; return when it is full.

        Caller must have checked that fewer bytes than ``target`` holds
        are buffered.
        """
        waiter = self._new_waiter("read_into")
        buffered = len(self._buffer)
        self._buffer.copy_into(target[:buffered])
        self._target, self._target_filled = target, buffered
        try:
            if self._busy_poll_us:
                await self._busy_poll(waiter)
            await waiter
        except BaseException:
            # Cancelled, or the connection failed: the bytes received so
            # far go back in front of anything buffered since.
            later = self._buffer.take()
            self._buffer.feed(target[: self._target_filled])
            self._buffer.feed(later)
            raise
        finally:
            filled = self._target_filled
            self._target, self._target_filled, self._offered_target = None, 0, False
            if self._waiter is waiter:
                self._take_waiter()
        if filled < len(target):
            # Woken by EOF: what came is the partial read.
            raise asyncio.IncompleteReadError(bytes(target[:filled]), len(target))

    async def _busy_poll(self, waiter: asyncio.Future[None]) -> None:
        """Yield to the event loop until ``waiter`` is done (the data,
        EOF or an error woke it) or `busy_poll_us` has passed.

        Each turn first receives what the socket holds, straight into
        this reader (`ReceiveFlow.receive_now`), then yields with
        ``sleep(0)``: the loop polls its selector with a zero timeout and
        runs the other ready tasks, so this task never keeps them waiting.
        """
        deadline = time.perf_counter() + self._busy_poll_us * 1e-6
        flow = self._flow
        while not waiter.done() and time.perf_counter() < deadline:
            if flow is not None and flow.receive_now() and waiter.done():
                return
            await asyncio.sleep(0)

    def _new_waiter(self, func_name: str) -> asyncio.Future[None]:
        """Register the read that is about to wait and return its future."""
        if self._waiter is not None:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for incoming data"
            )
        if self._push is not None:
            raise RuntimeError(f"{func_name}() called while a push is attached to this reader")
        if self._flow is not None:
            # About to block: send what this task wrote, so a request goes
            # out before we wait for its reply.
            self._flow.flush_writes()
        if self._paused:
            self._resume_receiving()
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    def _data_arrived(self, nbytes: int, separator: bytes | None) -> bool:
        """True if ``nbytes`` are buffered, or ``separator`` (if not None) is."""
        if separator is None:
            return len(self._buffer) >= nbytes
        return self._buffer.separator_arrived(separator, self._limit)

    def _data_received(self) -> None:
        """Bytes were added to the buffer: pause receiving, wake the reader."""
        if not self._paused and len(self._buffer) > max(self._high_water, self._wanted_nbytes):
            self._pause_receiving()
        if (
            self._waiter is not None
            and self._target is None
            and self._data_arrived(self._wanted_nbytes, self._wanted_separator)
        ):
            self._wake_waiter()

    def _state_changed(self) -> None:
        """The connection's state changed: reroute the takes, and end a
        waiting read if no more bytes will come or the connection failed."""
        usable = self._state.usable and self._push is None
        if usable != self._usable:
            self._usable = usable
            self._route_takes()
        exc = self._state.exception
        if exc is not None:
            waiter = self._take_waiter()
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
        elif self._eof:
            self._wake_waiter()
        if self._push is not None:
            self._push.state_changed(self._state)

    def _route_takes(self) -> None:
        """Shadow the four hottest ``try_`` takes with the kernels' bound
        methods while the connection is usable; remove the shadows when it
        is not.

        The fast path of a buffered read. The methods of the class are the
        definitions; while the connection is usable each shadow does what
        its method does then (take from the buffer, within `limit`), with
        one call less. When it is not usable the shadows are deleted, so
        the class's methods answer (and take nothing). The `read_port`
        follows the same state.
        """
        if self._read_port is not None:
            self._read_port.usable = self._usable
        attributes = vars(self)
        if self._usable:
            attributes["try_read_into"] = self._buffer.copy_into
            attributes["try_readexactly"] = self._buffer.take_exactly
            attributes["try_readuntil"] = self._separated.take_until
            attributes["try_read_line"] = self._separated.take_line
        else:
            for name in _SHADOWED_TAKES:
                attributes.pop(name, None)

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

    def _raise_if_failed(self) -> None:
        if self._push is not None:
            raise RuntimeError("Cannot read: a push is attached to this reader (stop it first)")
        exc = self._state.exception
        if exc is not None:
            raise exc

    # Flow control.

    def _took(self) -> None:
        """A waiting read took bytes: resume receiving if few are left."""
        if self._paused and len(self._buffer) <= self._low_water:
            self._resume_receiving()

    def _pause_receiving(self) -> None:
        if self._flow is not None and self._flow.pause_receiving():
            self._paused = True

    def _resume_receiving(self) -> None:
        self._paused = False
        if self._flow is not None:
            self._flow.resume_receiving()


# The takes that _route_takes shadows on a usable reader.
_SHADOWED_TAKES = ("try_read_into", "try_readexactly", "try_readuntil", "try_read_line")

# With the compiled kernels, iterations over a reader's own reads get a
# compiled __anext__ (tcpframe._kernels.awaitables_compiled).
if _kernels.awaitables is not None:
    _kernels.awaitables.install_reader(FrameReader)

"""The writing half of a tcpframe connection, with the asyncio.StreamWriter API."""

from __future__ import annotations

__all__ = ["FLUSH_SIZE", "FrameWriter", "as_connection_error", "sendable"]

import asyncio
import collections
import pickle
import typing
from collections.abc import Iterable

from .._kernels import structs
from ..framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from .connection import ConnectionState

# Pending bytes are handed to the transport once they reach this size, or
# at the next turn of the event loop, or when this connection's reader is
# about to wait, whichever comes first.
FLUSH_SIZE = 2**16


def as_connection_error(exc: BaseException) -> ConnectionError:
    """Return how a write learns that the connection was lost with ``exc``.

    ``exc`` itself if it is a `ConnectionError`; else (over TLS, an
    `ssl.SSLError`, or asyncio's "SSL shutdown timed out") a
    `ConnectionResetError` whose cause is ``exc``.
    """
    if isinstance(exc, ConnectionError):
        return exc
    error = ConnectionResetError(f"Connection lost: {exc!r}")
    error.__cause__ = exc
    return error


def sendable(data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """Return ``data`` as a transport can send it, or refuse it.

    Every write of a `FrameWriter` passes its data through this, so that
    every loop gets the same buffers, and a buffer no transport can send
    is refused at the call instead of failing the connection later (the
    stdlib loop's transport would fail with a "Fatal write error").

    The rule is the struct kernels' (`write_from`, `FrameWriter.write_structs`):
    a buffer must be C-contiguous, and an empty buffer is, whatever its
    strides. A `memoryview` that is not one dimension of bytes (several
    dimensions, or items of another size, e.g. format ``"i"``) is sent as
    the bytes it spans, in memory order; without this, a transport that
    sends part of it would resume at an item, not a byte, offset.

    Parameters
    ----------
    data : `bytes`, `bytearray` or `memoryview`
        What to send.

    Returns
    -------
    data : `bytes`, `bytearray` or `memoryview`
        ``data`` itself if it is `bytes`, a `bytearray`, or a memoryview
        of one dimension of bytes; else a view of (or, if it is empty and
        strided, a copy of) its bytes.

    Raises
    ------
    TypeError
        If ``data`` is not `bytes`, a `bytearray` or a `memoryview` (as
        `asyncio.StreamWriter.write` refuses it).
    ValueError
        If ``data`` is a memoryview that is not C-contiguous (e.g.
        ``memoryview(b"abcdef")[::2]``, or a view of a Fortran-order
        array): the error `write_from` raises for it.
    """
    if type(data) is not memoryview:
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        return data
    if data.c_contiguous:
        if data.ndim == 1 and data.itemsize == 1:
            return data
        # One dimension of bytes, without a copy, whatever the format
        # (memoryview.cast refuses non-native formats such as numpy's "<i").
        return pickle.PickleBuffer(data).raw()
    # The struct kernels decide: ValueError unless C-contiguous as
    # PyBuffer_IsContiguous says (which memoryview.c_contiguous does not
    # say of an empty strided view: that gives b"").
    return structs.join_structs((data,))


class FrameWriter:
    """Write bytes and structs to one connection.

    Offers the `asyncio.StreamWriter` API with the same semantics, plus
    `write_structs`, `write_frame` and `write_checksummed`. A write to an idle connection goes to the transport at
    once, for low latency; the writes that follow it collect in one
    pending buffer that goes to the transport in a single call (at the next
    turn of the event loop, when this connection's reader is about to wait,
    or at `FLUSH_SIZE` bytes), so a burst of writes costs a couple of
    ``send()`` calls rather than one each. `drain` still honours the
    transport's high-water mark, and `close` and `write_eof` send
    everything pending first. Once the connection is lost, writes are
    dropped (on uvloop as on the stdlib loop) and `drain` raises
    `ConnectionError`.

    Parameters
    ----------
    transport : `asyncio.Transport`
        The connection's transport.
    state : `ConnectionState`
        The connection's state, shared with its protocol and reader.

    Attributes
    ----------
    ready : `bool`
        True while a write needs no checks before it and no `drain` after
        it: the connection is usable, the peer has not sent EOF and the
        transport has not paused writing. Clients skip their checks while
        it is True.
    """

    def __init__(self, transport: asyncio.Transport, state: ConnectionState) -> None:
        self._transport = transport
        self._state = state
        self._loop = asyncio.get_running_loop()
        # Set by the protocol's pause_writing / resume_writing.
        self._writing_paused = False
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        # Invariant: bytes are pending only while a flush is scheduled.
        self._pending = bytearray()
        self._flush_handle: asyncio.Handle | None = None
        # True after a write went straight to the transport, until the next
        # flush point; writes meanwhile are coalesced.
        self._sent_recently = False
        self.ready = True
        # Writes are deferred, so the transport cannot reject one made
        # after write_eof; this flag lets write raise at once, as
        # asyncio.StreamWriter.write does.
        self._eof_written = False
        # True once the connection is lost: writes then go nowhere, on
        # every loop (the stdlib loop's transports drop them, uvloop's
        # raise RuntimeError), and drain raises.
        self._connection_lost = False
        state.subscribe(self._state_changed)

    def __repr__(self) -> str:
        return f"<FrameWriter transport={self._transport!r} pending={len(self._pending)}>"

    @property
    def transport(self) -> asyncio.Transport:
        """The underlying transport."""
        return self._transport

    @property
    def pending(self) -> int:
        """Number of bytes written and not yet handed to the transport (see
        `FLUSH_SIZE`); the transport's own buffer is
        ``transport.get_write_buffer_size()``."""
        return len(self._pending)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` to be sent.

        A buffer the transport keeps until it is sent (uvloop's, and
        asyncio's from Python 3.12, do) must not be resized meanwhile: the
        resize raises `BufferError`, as with `asyncio.StreamWriter`.

        Raises
        ------
        TypeError
            If ``data`` is not `bytes`, a `bytearray` or a `memoryview`.
        ValueError
            If ``data`` is a memoryview that is not C-contiguous (see
            `sendable`). Nothing is queued.
        RuntimeError
            If `write_eof` was called.
        """
        if type(data) is not bytes:
            data = sendable(data)
        if self._eof_written:
            raise RuntimeError("Cannot call write() after write_eof()")
        if (self._flush_handle is None and not self._sent_recently) or len(data) >= FLUSH_SIZE:
            self.flush()
            self._sent_recently = True
            if not self._connection_lost:
                self._transport.write(data)
            return
        self._pending += data
        self._pending_grew()

    def writelines(self, data: Iterable[bytes | bytearray | memoryview]) -> None:
        """Queue each item of ``data`` to be sent.

        Every item is checked before any is queued.

        Raises
        ------
        TypeError, ValueError
            If an item is refused, as by `write`. Nothing is queued.
        RuntimeError
            If `write_eof` was called.
        """
        for item in [sendable(item) for item in data]:
            self.write(item)

    def write_structs(self, structs_to_write: Iterable[typing.Any]) -> None:
        """Queue the bytes of each struct, copied straight from its memory.

        Parameters
        ----------
        structs_to_write : iterable of C-contiguous buffers
            `ctypes.Structure` instances, numpy arrays, bytes, ...

        Raises
        ------
        TypeError
            If an item is not a buffer (`str` included). Nothing is queued.
        ValueError
            If an item is not C-contiguous. Nothing is queued.
        RuntimeError
            If `write_eof` was called.
        """
        if self._eof_written:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._flush_handle is None and not self._sent_recently:
            self._sent_recently = True
            if not self._connection_lost:
                self._transport.write(structs.join_structs(structs_to_write))
            return
        structs.append_structs(self._pending, structs_to_write)
        self._pending_grew()

    def write_frame(self, payload: typing.Any, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> None:
        """Queue a length-prefixed frame: the prefix, then ``payload``.

        Parameters
        ----------
        payload : C-contiguous buffer
            `bytes`, a `ctypes.Structure`, a numpy array, ...
        prefix : `tcpframe.LengthPrefix`, optional
            The length prefix; by default 4 bytes, big-endian, counting
            the payload only.

        Raises
        ------
        TypeError
            If ``payload`` is not a buffer. Nothing is queued.
        ValueError
            If ``payload`` is not C-contiguous. Nothing is queued.
        tcpframe.FrameError
            If the payload is larger than ``prefix.max_frame_size`` or its
            length does not fit the prefix. Nothing is queued.
        RuntimeError
            If `write_eof` was called.
        """
        with memoryview(payload) as view:
            header = prefix.encode(view.nbytes)
        self.write_structs((header, payload))

    def write_checksummed(self, body: bytes, framing: ChecksumFrame = NMEA) -> None:
        """Queue a checksummed frame that carries ``body``.

        Parameters
        ----------
        body : bytes-like
            The frame's contents, without start marker or checksum.
        framing : `tcpframe.ChecksumFrame`, optional
            Layout and checksum of the frame; by default an NMEA 0183
            sentence, ``$<body>*hh\\r\\n``.

        Raises
        ------
        TypeError
            If ``body`` is not a buffer (`str` included).
        ValueError
            If ``body`` is not C-contiguous, as `write_structs` refuses it.
        tcpframe.FrameError
            If the frame would hold its terminator before its end.
        RuntimeError
            If `write_eof` was called.
        """
        if type(body) is not bytes:
            # The struct kernels' rule (ChecksumFrame.encode would gather
            # a strided body's items, and take an int for a size).
            body = structs.join_structs((body,))
        self.write(framing.encode(body))

    def flush(self) -> None:
        """Hand every pending byte to the transport now."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._pending:
            # The transport may keep a reference to what it is given, so
            # give it the buffer and start a new one.
            pending, self._pending = self._pending, bytearray()
            if not self._connection_lost:
                self._transport.write(pending)

    def can_write_eof(self) -> bool:
        """Return True if the transport supports `write_eof`."""
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        """Send everything pending, then close the write side."""
        self.flush()
        self._transport.write_eof()
        self._eof_written = True

    def is_closing(self) -> bool:
        """Return True if the connection is closed or closing."""
        return self._transport.is_closing()

    def close(self) -> None:
        """Send everything pending, then close the connection.

        Safe to call when the connection is already closing.
        """
        if not self._transport.is_closing():
            self.flush()
            # Never twice: asyncio's TLS transport, closed again, drops
            # its protocol and then fails get_write_buffer_size.
            self._transport.close()
        self._state.note_closed_here()
        self.ready = False

    @property
    def closed_by_peer(self) -> bool:
        """True if the peer ended the connection cleanly, without error,
        and this end has not closed it.

        Over TLS the transport then closes itself (TLS has no half-close),
        so `is_closing` is True, but what the peer sent is still readable.
        """
        state = self._state
        return state.peer_closed and not state.closed_here and state.exception is None

    async def wait_closed(self) -> None:
        """Wait until the connection is closed.

        Raises
        ------
        ConnectionError
            If the connection ended with an error.
        """
        await self._state.wait_closed()

    def get_extra_info(self, name: str, default: typing.Any = None) -> typing.Any:
        """Return transport information, e.g. ``"socket"`` or ``"peername"``."""
        return self._transport.get_extra_info(name, default)

    async def drain(self) -> None:
        """Wait until it is appropriate to write more.

        Returns at once unless the transport's write buffer is above its
        high-water mark.

        Raises
        ------
        ConnectionError
            If the connection was lost.
        """
        exc = self._state.exception
        if exc is not None:
            raise as_connection_error(exc)
        if self._transport.is_closing():
            # Let connection_lost run, so the wait below sees the loss.
            await asyncio.sleep(0)
        if self._state.lost:
            raise ConnectionResetError("Connection lost")
        if not self._writing_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._drain_waiters:
                self._drain_waiters.remove(waiter)

    # Called by the protocol.

    def pause_writing(self) -> None:
        """The transport's write buffer went above its high-water mark."""
        self._writing_paused = True
        self._update_ready()

    def resume_writing(self) -> None:
        """The transport's write buffer drained below its low-water mark."""
        self._writing_paused = False
        self._update_ready()
        self._settle_drain_waiters(None)

    def flush_point(self) -> None:
        """Send what is pending: the caller is about to let time pass.

        The next write to go straight to the transport again.
        """
        self._sent_recently = False
        self.flush()

    def _state_changed(self) -> None:
        if self._state.lost and not self._connection_lost:
            # Drop what is pending, and every later write.
            self._connection_lost = True
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None
            self._pending = bytearray()
            exc = self._state.exception
            self._settle_drain_waiters(None if exc is None else as_connection_error(exc))
        self._update_ready()

    def _update_ready(self) -> None:
        state = self._state
        self.ready = not (
            self._writing_paused
            or self._transport.is_closing()
            or state.exception is not None
            or state.peer_closed
        )

    def _settle_drain_waiters(self, exc: BaseException | None) -> None:
        while self._drain_waiters:
            waiter = self._drain_waiters.popleft()
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)

    def _pending_grew(self) -> None:
        if len(self._pending) >= FLUSH_SIZE:
            self.flush()
        if self._flush_handle is None and self._pending:
            self._flush_handle = self._loop.call_soon(self.flush_point)

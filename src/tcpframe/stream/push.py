"""Push: a callback called with each complete message as it is received.

Instead of one ``await`` per message, a push hands every complete message
of each receive to a callback, from the protocol's ``buffer_updated``: a
kernel (`tcpframe._kernels.push`) walks the receive buffer and calls the
callback once per message, or once per receive with a view of all
complete records (`push_records`). See `Push` for the rules on
back-pressure, errors, the end of the connection and switching back to
ordinary reads.

The functions here work on a `FrameReader`; clients and servers have the
same methods (``client.push_structs(...)``, ...), which also close the
connection when a push ends with it.
"""

from __future__ import annotations

__all__ = [
    "Push",
    "push_checksummed",
    "push_frames",
    "push_lines",
    "push_records",
    "push_structs",
]

import asyncio
import ctypes
import inspect
import typing

from .._kernels import frames
from .._kernels import push as kernels
from ..framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from .connection import ConnectionState
from .records import new_records

if typing.TYPE_CHECKING:
    from .reader import FrameReader

PushCallback = typing.Callable[[typing.Any], typing.Awaitable[typing.Any] | None]
EndCallback = typing.Callable[["Push", BaseException | None], None]


class Push:
    """A callback attached to a connection's reader, called with each
    complete message as it is received.

    Made by `push_structs`, `push_records`, `push_lines`, `push_frames`
    and `push_checksummed` (or the same methods of a client or server);
    not meant to be made directly.

    Parameters
    ----------
    reader : `FrameReader`
        The reader to attach to.
    pusher : `tcpframe._kernels.push.Pusher`
        The kernel that walks the reader's buffer and calls the callback.
    expected : callable
        Returns the ``expected`` size of the message cut by the end of the
        connection, for `asyncio.IncompleteReadError` (None if unknown).
    on_end : callable or None, optional
        Called with this push and the exception it ended with (None if the
        connection ended cleanly) when it ends, unless `stop` ended it
        cleanly.

    Attributes
    ----------
    done : `asyncio.Future`
        Done when the push ends: its result is None if it was stopped
        (`stop`) or the connection ended at a message boundary; otherwise
        it raises why the push ended (see Notes).

    Raises
    ------
    RuntimeError
        If the reader has a push attached already, or a read is waiting.

    Notes
    -----
    **Delivery.** The callback runs in the event loop, from the protocol's
    ``buffer_updated``, once per complete message in the order received
    (`push_records`: once per receive, with all complete records). The
    first call comes in a later loop iteration than the one that attached
    the push, and delivers the messages already buffered. Each message is
    consumed before its callback is called. What the callback is given is
    valid only until it returns: copy what you keep (see each function).

    **Back-pressure.** The callback returns None, or an awaitable (e.g. it
    is an ``async def`` function, or returns ``queue.put(item)``). Then
    delivery stops, receiving from the socket pauses, and both resume when
    the awaitable completes. Meanwhile the buffer holds at most what had
    been received when the callback returned (the rest of that receive,
    and whatever the transport had in flight), so memory stays bounded
    while the peer is held back by TCP flow control. Each awaitable is run
    as a task, so an ``async def`` callback costs a task per message:
    return an awaitable only when the consumer must wait (e.g.
    ``return None if queue.full() is False else queue.put(item)``... or
    simply ``queue.put_nowait`` until it is full).

    **Errors.** If the callback raises (or its awaitable does, or it
    returns something that is neither None nor awaitable: `TypeError`),
    or the stream cannot be framed (e.g. `tcpframe.FrameError`,
    `asyncio.LimitOverrunError`, `tcpframe.ChecksumMismatchError`,
    `UnicodeDecodeError`), the push ends and `done` raises that exception;
    the connection fails with it: every later read of the reader raises
    it, and a client or server closes the connection (calling its
    ``connect_callback``). Messages after the failing one stay buffered.
    A ``done`` whose exception nobody retrieves is reported by asyncio
    ("exception was never retrieved"): it is never swallowed.

    **End of the connection.** When the connection ends (EOF from the
    peer, or the connection is lost) the push ends once every complete
    message is delivered: `done` is None if no byte is left, else raises
    `asyncio.IncompleteReadError` whose ``partial`` holds the bytes of the
    message that was cut (they also stay in the reader's buffer; a read
    then sees them). If the connection failed, `done` raises its
    exception.

    **Switching.** While a push is attached, reads of the reader raise
    `RuntimeError`. After `stop` (which may be called from the callback),
    reads start at the first byte the push did not consume: nothing is
    lost or reordered.
    """

    def __init__(
        self,
        reader: FrameReader,
        pusher: kernels.Pusher,
        expected: typing.Callable[[], int | None],
        on_end: EndCallback | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = loop.create_future()
        self._reader = reader
        self._buffer = reader.receive_buffer
        self._pusher = pusher
        self._expected = expected
        self._on_end = on_end
        # The awaitable a callback returned, while delivery waits for it.
        self._blocked: asyncio.Future[typing.Any] | None = None
        # Whether the first walk was made, and whether one is under way.
        self._started = False
        self._running = False
        self._stopped = False
        self._state = ConnectionState()
        reader.attach_push(self)
        loop.call_soon(self._start)

    def __repr__(self) -> str:
        state = "done" if self.done.done() else "blocked" if self._blocked is not None else "active"
        return f"<Push {type(self._pusher).__name__} {state} delivered={self.delivered}>"

    @property
    def delivered(self) -> int:
        """How many messages (records, for `push_records`) the callback
        was given (`int`)."""
        return self._pusher.delivered

    @property
    def active(self) -> bool:
        """True until the push is stopped or ends (`bool`)."""
        return self._pusher.active

    def stop(self) -> None:
        """Stop pushing: ordinary reads may start at once, at the first
        byte the push did not consume.

        May be called from the callback (no message after it is
        delivered). If the callback's awaitable is pending, `done` waits
        for it (and raises its exception, if it raises one); otherwise
        `done` is done at once. Does nothing if the push has ended.
        """
        if not self._pusher.active:
            return
        self._stopped = True
        self._pusher.active = False
        self._reader.detach_push(self)
        if self._blocked is None and not self._running:
            self._end(None)

    # PushSink: what the reader calls.

    def data_received(self) -> None:
        """Deliver the complete messages that arrived."""
        if self._blocked is None and self._started:
            self._walk()

    def state_changed(self, state: ConnectionState) -> None:
        """End the push if the connection ended or failed."""
        self._state = state
        if self._blocked is None and self._started:
            self._check_end(state)

    # Delivery.

    def _start(self) -> None:
        self._started = True
        if self._pusher.active:
            self._walk()

    def _walk(self) -> None:
        """Deliver every complete message; then wait for the awaitable a
        callback returned, or end the push if the connection ended."""
        self._running = True
        try:
            result = self._pusher.run()
        except Exception as exc:
            self._fail(exc)
            return
        finally:
            self._running = False
        if result is not None:
            self._block(result)
        elif self._pusher.active:
            self._reader.resume_receiving()
            self._check_end(self._state)
        else:
            self._end(None)  # stop() from the last callback

    def _block(self, result: object) -> None:
        if not inspect.isawaitable(result):
            self._fail(TypeError(f"a push callback must return None or an awaitable, not {type(result).__name__}"))
            return
        if self._pusher.active:
            self._reader.pause_receiving()
        blocked = self._blocked = asyncio.ensure_future(result)
        blocked.add_done_callback(self._unblocked)

    def _unblocked(self, blocked: asyncio.Future[typing.Any]) -> None:
        self._blocked = None
        if blocked.cancelled():
            self._fail(asyncio.CancelledError("the awaitable a push callback returned was cancelled"))
            return
        exc = blocked.exception()
        if exc is not None:
            self._fail(exc)
        elif not self._pusher.active:
            self._end(None)  # stopped while blocked
        else:
            self._walk()

    def _check_end(self, state: ConnectionState) -> None:
        if not self._pusher.active:
            return
        if state.exception is not None:
            self._end(state.exception)
        elif state.receiving_ended:
            left = len(self._buffer)
            if left:
                self._end(asyncio.IncompleteReadError(self._buffer.peek(left), self._expected()))
            else:
                self._end(None)

    def _fail(self, exc: BaseException) -> None:
        """End with ``exc``, and fail the connection with it."""
        self._end(exc)
        if self._reader.exception() is None:
            self._reader.set_exception(exc)

    def _end(self, exc: BaseException | None) -> None:
        self._pusher.active = False
        self._reader.detach_push(self)
        if self.done.done():
            return
        if exc is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(exc)
        if self._on_end is not None and not (exc is None and self._stopped):
            self._on_end(self, exc)


def push_structs(
    reader: FrameReader, struct_type: typing.Any, callback: PushCallback, *, on_end: EndCallback | None = None
) -> Push:
    """Call ``callback(struct)`` with each fixed-size struct received.

    Parameters
    ----------
    reader : `FrameReader`
        The connection's reader.
    struct_type : `ctypes.Structure` or `ctypes.Union` subclass, or numpy dtype
        The structs' layout. A ctypes type gives an instance of it; anything
        else is passed to `numpy.dtype` and gives a `numpy.void` record.
    callback : callable
        ``callback(struct)``; returns None or an awaitable (back-pressure,
        see `Push`). ``struct`` is one object, refilled for each message:
        it is valid only until the callback returns. Read its fields
        there, or keep a copy (``type(struct).from_buffer_copy(struct)``
        for ctypes, ``struct.copy()`` for numpy).
    on_end : callable or None, optional
        ``on_end(push, exc)`` when the push ends, unless stopped (`Push`).

    Returns
    -------
    push : `Push`
        Stop it, or await its ``done``.
    """
    target = new_records(struct_type, 1)
    if isinstance(target, ctypes.Array):
        item = target = struct_type()
    else:
        item = target[0]
    pusher = kernels.StructPusher(reader.receive_buffer, target, item, callback)
    size = pusher.size
    return Push(reader, pusher, lambda: size, on_end)


def push_records(
    reader: FrameReader, record_type: typing.Any, callback: PushCallback, *, on_end: EndCallback | None = None
) -> Push:
    """Call ``callback(records)`` once per receive, with an array of all
    complete fixed-size records received.

    Parameters
    ----------
    reader : `FrameReader`
        The connection's reader.
    record_type : `ctypes.Structure` or `ctypes.Union` subclass, or numpy dtype
        The records' layout. A ctypes type gives a ctypes array of it;
        anything else is passed to `numpy.dtype` and gives a numpy
        structured array.
    callback : callable
        ``callback(records)``, with at least one record; returns None or an
        awaitable (back-pressure, see `Push`). With the compiled kernels
        ``records`` views the receive buffer's memory, which is reused as
        soon as the callback returns: the array is valid only until then.
        Compute from it there, or keep a copy (``records.copy()`` for
        numpy, ``(T * len(records)).from_buffer_copy(records)`` for ctypes).
    on_end : callable or None, optional
        ``on_end(push, exc)`` when the push ends, unless stopped (`Push`).

    Returns
    -------
    push : `Push`
        Its ``delivered`` counts records.
    """
    sample = new_records(record_type, 1)
    size = ctypes.sizeof(sample) if isinstance(sample, ctypes.Array) else sample.itemsize
    wrap: typing.Callable[[typing.Any, int], typing.Any]
    if isinstance(sample, ctypes.Array):
        record_ctype = sample._type_

        def wrap(data: typing.Any, count: int) -> typing.Any:
            return (record_ctype * count).from_buffer(data)

    else:
        import numpy as np

        dtype = sample.dtype

        def wrap(data: typing.Any, count: int) -> typing.Any:
            return np.frombuffer(data, dtype, count)

    pusher = kernels.RecordPusher(reader.receive_buffer, size, wrap, callback)
    return Push(reader, pusher, lambda: size, on_end)


def push_lines(
    reader: FrameReader,
    callback: PushCallback,
    separator: bytes = b"\n",
    encoding: str | None = "utf-8",
    *,
    on_end: EndCallback | None = None,
) -> Push:
    """Call ``callback(line)`` with each line received, without its separator.

    Parameters
    ----------
    reader : `FrameReader`
        The connection's reader; its `~FrameReader.limit` bounds a line.
    callback : callable
        ``callback(line)``; returns None or an awaitable (back-pressure,
        see `Push`). Each line is a new object: keep it as long as you like.
    separator : `bytes`, optional
        The line separator.
    encoding : `str` or None, optional
        Lines are decoded (strict) with it, or are `bytes` if None.
    on_end : callable or None, optional
        ``on_end(push, exc)`` when the push ends, unless stopped (`Push`).

    Returns
    -------
    push : `Push`
        A line that does not decode, or a separator not within the limit,
        ends it (`UnicodeDecodeError`, `asyncio.LimitOverrunError`).
    """
    pusher = kernels.LinePusher(reader.receive_buffer, separator, reader.limit, encoding, callback)
    return Push(reader, pusher, lambda: None, on_end)


def push_frames(
    reader: FrameReader,
    callback: PushCallback,
    prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX,
    *,
    on_end: EndCallback | None = None,
) -> Push:
    """Call ``callback(payload)`` with the payload (`bytes`) of each
    length-prefixed frame received.

    Parameters
    ----------
    reader : `FrameReader`
        The connection's reader.
    callback : callable
        ``callback(payload)``; returns None or an awaitable (see `Push`).
    prefix : `tcpframe.LengthPrefix`, optional
        The length prefix, as for `FrameReader.read_frame`.
    on_end : callable or None, optional
        ``on_end(push, exc)`` when the push ends, unless stopped (`Push`).

    Returns
    -------
    push : `Push`
        A bad prefix ends it (`tcpframe.FrameError`).
    """
    buffer = reader.receive_buffer
    pusher = kernels.FramePusher(buffer, prefix, callback)
    return Push(reader, pusher, lambda: frames.length_prefixed_nbytes(buffer, prefix), on_end)


def push_checksummed(
    reader: FrameReader,
    callback: PushCallback,
    framing: ChecksumFrame = NMEA,
    *,
    on_end: EndCallback | None = None,
) -> Push:
    """Call ``callback(body)`` with the verified body (`bytes`) of each
    checksummed frame received.

    Parameters
    ----------
    reader : `FrameReader`
        The connection's reader; its `~FrameReader.limit` bounds a frame.
    callback : callable
        ``callback(body)``; returns None or an awaitable (see `Push`).
    framing : `tcpframe.ChecksumFrame`, optional
        Layout and checksum, as for `FrameReader.read_checksummed`.
    on_end : callable or None, optional
        ``on_end(push, exc)`` when the push ends, unless stopped (`Push`).

    Returns
    -------
    push : `Push`
        A bad frame ends it (`tcpframe.ChecksumMismatchError`,
        `tcpframe.FrameError`), as does a terminator not within the limit.
    """
    pusher = kernels.ChecksummedPusher(reader.receive_buffer, framing, reader.limit, callback)
    return Push(reader, pusher, lambda: None, on_end)

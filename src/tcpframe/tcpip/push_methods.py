"""Client and server methods that push each received message to a callback
(`tcpframe.stream.push`)."""

from __future__ import annotations

__all__ = ["PushMethods"]

import asyncio
import typing

from ..framing import DEFAULT_LENGTH_PREFIX, NMEA, ChecksumFrame, LengthPrefix
from ..stream import push
from ..stream.push import Push, PushCallback

if typing.TYPE_CHECKING:
    import logging

    from ..stream.reader import FrameReader

# The close_connection tasks of pushes that ended with their connection.
_closing: set[asyncio.Task[None]] = set()


class PushMethods:
    """Push methods of `BaseClientOrServer`, which mixes this in.

    Each attaches a callback to the connection's reader and returns the
    `tcpframe.stream.push.Push`; see it for back-pressure, errors, the end of
    the connection and switching back to ordinary reads. When a push ends
    with the connection (the peer closed it, it was lost, or it failed,
    e.g. because the callback raised), the connection is closed at this
    end as a read that met the end would close it: ``connect_callback``
    is called and `connected` is False. The push's ``done`` says why.
    """

    if typing.TYPE_CHECKING:
        # What BaseClientOrServer provides.
        log: logging.Logger
        name: str

        @property
        def reader(self) -> FrameReader | None: ...

        @property
        def connected(self) -> bool: ...

        @property
        def encoding(self) -> str: ...

        @property
        def terminator(self) -> bytes: ...

        async def close_connection(self) -> None: ...

    def push_structs(self, struct_type: typing.Any, callback: PushCallback) -> Push:
        """Call ``callback(struct)`` with each fixed-size struct received.

        Parameters
        ----------
        struct_type : `ctypes.Structure` subclass or numpy dtype
            The structs' layout: a ctypes type gives an instance of it,
            anything else a `numpy.void` record of `numpy.dtype`.
        callback : callable
            ``callback(struct)``; returns None, or an awaitable to pause
            reading until it completes. ``struct`` is refilled for each
            message: valid only until the callback returns (copy it to
            keep it: ``type(struct).from_buffer_copy(struct)``, or
            ``struct.copy()`` for numpy).

        Returns
        -------
        push : `tcpframe.stream.push.Push`
            ``push.stop()`` returns to ordinary reads; ``await push.done``
            waits for the end.

        Raises
        ------
        ConnectionError
            If not connected.
        RuntimeError
            If a push is attached already, or a read is waiting.
        """
        return push.push_structs(self._push_reader(), struct_type, callback, on_end=self._push_ended)

    def push_records(self, record_type: typing.Any, callback: PushCallback) -> Push:
        """Call ``callback(records)`` once per receive with an array of all
        complete fixed-size records received.

        Parameters
        ----------
        record_type : `ctypes.Structure` subclass or numpy dtype
            The records' layout: a ctypes type gives a ctypes array,
            anything else a numpy structured array.
        callback : callable
            ``callback(records)``; returns None, or an awaitable to pause
            reading until it completes. ``records`` views the receive
            buffer (with the compiled kernels): valid only until the
            callback returns. Keep ``records.copy()`` (numpy) or
            ``(T * len(records)).from_buffer_copy(records)`` (ctypes).

        Returns
        -------
        push : `tcpframe.stream.push.Push`
            Its ``delivered`` counts records.

        Raises
        ------
        ConnectionError
            If not connected.
        RuntimeError
            If a push is attached already, or a read is waiting.
        """
        return push.push_records(self._push_reader(), record_type, callback, on_end=self._push_ended)

    def push_lines(self, callback: PushCallback, *, decode: bool = True) -> Push:
        """Call ``callback(line)`` with each line received, ending in
        `terminator` (which is stripped), as `read_str` would return them.

        Parameters
        ----------
        callback : callable
            ``callback(line)``; returns None, or an awaitable to pause
            reading until it completes.
        decode : `bool`, optional
            Decode the lines with `encoding` (strict) into `str`, or give
            them as `bytes` if False.

        Returns
        -------
        push : `tcpframe.stream.push.Push`
            A line that does not decode or is longer than the reader's
            limit ends it.

        Raises
        ------
        ConnectionError
            If not connected.
        RuntimeError
            If a push is attached already, or a read is waiting.
        """
        encoding = self.encoding if decode else None
        return push.push_lines(self._push_reader(), callback, self.terminator, encoding, on_end=self._push_ended)

    def push_frames(self, callback: PushCallback, prefix: LengthPrefix = DEFAULT_LENGTH_PREFIX) -> Push:
        """Call ``callback(payload)`` with the payload of each
        length-prefixed frame received (as `read_frame` returns them).

        Parameters
        ----------
        callback : callable
            ``callback(payload)``; returns None, or an awaitable to pause
            reading until it completes.
        prefix : `tcpframe.LengthPrefix`, optional
            The frames' length prefix.

        Returns
        -------
        push : `tcpframe.stream.push.Push`
            A bad length prefix ends it (`tcpframe.FrameError`).

        Raises
        ------
        ConnectionError
            If not connected.
        RuntimeError
            If a push is attached already, or a read is waiting.
        """
        return push.push_frames(self._push_reader(), callback, prefix, on_end=self._push_ended)

    def push_checksummed(self, callback: PushCallback, framing: ChecksumFrame = NMEA) -> Push:
        """Call ``callback(body)`` with the verified body of each
        checksummed frame received (as `read_checksummed` returns them).

        Parameters
        ----------
        callback : callable
            ``callback(body)``; returns None, or an awaitable to pause
            reading until it completes.
        framing : `tcpframe.ChecksumFrame`, optional
            The frames' layout and checksum.

        Returns
        -------
        push : `tcpframe.stream.push.Push`
            A bad frame ends it (`tcpframe.ChecksumMismatchError`,
            `tcpframe.FrameError`).

        Raises
        ------
        ConnectionError
            If not connected.
        RuntimeError
            If a push is attached already, or a read is waiting.
        """
        return push.push_checksummed(self._push_reader(), callback, framing, on_end=self._push_ended)

    def _push_reader(self) -> FrameReader:
        reader = self.reader
        if reader is None or not self.connected:
            raise ConnectionError("Not connected")
        return reader

    def _push_ended(self, ended: Push, exc: BaseException | None) -> None:
        """A push ended with the connection: close it at this end."""
        self.log.info("%s: push ended with the connection: %r", self.name, exc)
        task = asyncio.ensure_future(self.close_connection())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

"""Pure-Python twin of the compiled push kernels (``ext/push.pyx``).

A pusher walks the complete messages at the front of a `ReceiveBuffer`
and calls a callback with each one (or, for records, once with all of
them). Each message is consumed before its callback is called. A walk
stops at the first incomplete message, when `Pusher.active` is cleared (a
callback may clear it), or when a callback returns something other than
None, which `Pusher.run` then returns (the caller's back-pressure: an
awaitable). An exception raised by a take or a callback propagates; the
messages before it, and the one whose callback raised, are consumed.
"""

__all__ = ["ChecksummedPusher", "FramePusher", "LinePusher", "Pusher", "RecordPusher", "StructPusher"]

import codecs
import typing

from . import frames_pure as frames
from .byte_rules_pure import acquire_writable
from .receive_buffer_pure import ReceiveBuffer, check_separator

Callback = typing.Callable[[typing.Any], typing.Any]


class Pusher:
    """Base of the pushers: the buffer, the callback and the walk's state.

    Attributes
    ----------
    active : `bool`
        The walk goes on while this is True; clear it to stop (also from
        inside a callback: the walk stops after that callback).
    delivered : `int`
        Messages delivered so far (records, for `RecordPusher`).
    """

    def __init__(self, buffer: ReceiveBuffer, callback: Callback) -> None:
        if not isinstance(buffer, ReceiveBuffer):
            raise TypeError(f"buffer must be a ReceiveBuffer, not {type(buffer).__name__}")
        self._buffer = buffer
        self._callback = callback
        self.active = True
        self._delivered = 0

    @property
    def delivered(self) -> int:
        """Messages delivered so far (`int`, read-only)."""
        return self._delivered

    def run(self) -> typing.Any:
        """Deliver every complete buffered message while `active`.

        Returns
        -------
        result : object
            None once no complete message is left or `active` is cleared;
            otherwise what the callback that stopped the walk returned.
        """
        raise NotImplementedError


class StructPusher(Pusher):
    """Push fixed-size structs: each is copied into ``target`` and the
    callback called with ``item``.

    Parameters
    ----------
    buffer : `ReceiveBuffer`
        The buffer to walk.
    target : writable C-contiguous buffer
        Where each struct is copied; its size is the structs' size.
    item : object
        What the callback is called with (``target`` itself, or e.g. a
        numpy record viewing it).
    callback : callable
        ``callback(item)``.
    """

    def __init__(self, buffer: ReceiveBuffer, target: typing.Any, item: typing.Any, callback: Callback) -> None:
        super().__init__(buffer, callback)
        view = acquire_writable(target)
        if view.nbytes == 0:
            view.release()
            raise ValueError(f"cannot push structs of size 0 ({type(target).__name__})")
        self._view = view.cast("B")
        view.release()
        self._target = target
        self._item = item

    @property
    def size(self) -> int:
        """Size of a struct in bytes (`int`, read-only)."""
        return self._view.nbytes

    def run(self) -> typing.Any:
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        buffer = self._buffer
        view = self._view
        size = len(view)
        data = buffer._data
        callback = self._callback
        item = self._item
        while self.active and len(data) >= size:
            view[:] = data[:size]
            buffer._consume(size)
            self._delivered += 1
            result = callback(item)
            if result is not None:
                return result
        return None


class LinePusher(Pusher):
    """Push lines ending in ``separator``, without it: `str` decoded
    (strict) with ``encoding``, or `bytes` if ``encoding`` is None.

    A line that does not decode is consumed and raises
    `UnicodeDecodeError`; a separator not within ``limit`` bytes raises
    `asyncio.LimitOverrunError` (nothing consumed), as
    `ReceiveBuffer.take_until`.
    """

    def __init__(
        self, buffer: ReceiveBuffer, separator: bytes, limit: int, encoding: str | None, callback: Callback
    ) -> None:
        super().__init__(buffer, callback)
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        self._separator = check_separator(separator)
        self._limit = limit
        if encoding is not None:
            codecs.lookup(encoding)
        self._encoding = encoding

    def run(self) -> typing.Any:
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        buffer = self._buffer
        separator = self._separator
        limit = self._limit
        encoding = self._encoding
        callback = self._callback
        while self.active:
            index = buffer._locate_separator(separator, limit)
            if index < 0:
                return None
            try:
                chunk = bytes(buffer._data[:index])
                line: str | bytes = chunk if encoding is None else chunk.decode(encoding)
            finally:
                buffer._consume(index + len(separator))
            self._delivered += 1
            result = callback(line)
            if result is not None:
                return result
        return None


class FramePusher(Pusher):
    """Push the payloads of length-prefixed frames (`bytes`); raises as
    `take_length_prefixed`."""

    def __init__(self, buffer: ReceiveBuffer, prefix: typing.Any, callback: Callback) -> None:
        super().__init__(buffer, callback)
        self._prefix = prefix

    def run(self) -> typing.Any:
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        while self.active:
            payload = frames.take_length_prefixed(self._buffer, self._prefix)
            if payload is None:
                return None
            self._delivered += 1
            result = self._callback(payload)
            if result is not None:
                return result
        return None


class ChecksummedPusher(Pusher):
    """Push the verified bodies of checksummed frames (`bytes`); raises as
    `take_checksummed` (a bad frame is consumed)."""

    def __init__(self, buffer: ReceiveBuffer, framing: typing.Any, limit: int, callback: Callback) -> None:
        super().__init__(buffer, callback)
        self._framing = framing
        self._limit = limit

    def run(self) -> typing.Any:
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        while self.active:
            body = frames.take_checksummed(self._buffer, self._framing, self._limit)
            if body is None:
                return None
            self._delivered += 1
            result = self._callback(body)
            if result is not None:
                return result
        return None


class RecordPusher(Pusher):
    """Push all complete fixed-size records of each walk at once.

    ``wrap(data, count)`` turns a writable bytes-like ``data`` of
    ``count`` records into the object the callback is called with (e.g.
    `numpy.frombuffer`). The compiled pusher's ``data`` views the
    buffer's memory, which is reused once the callback returns; the
    twin's is a copy.

    Parameters
    ----------
    buffer : `ReceiveBuffer`
        The buffer to walk.
    record_size : `int`
        Size of a record in bytes.
    wrap : callable
        ``wrap(data, count)``.
    callback : callable
        ``callback(wrap(data, count))``.
    """

    def __init__(
        self,
        buffer: ReceiveBuffer,
        record_size: int,
        wrap: typing.Callable[[typing.Any, int], typing.Any],
        callback: Callback,
    ) -> None:
        super().__init__(buffer, callback)
        if record_size <= 0:
            raise ValueError(f"record_size must be positive, not {record_size}")
        self._size = record_size
        self._wrap = wrap

    @property
    def size(self) -> int:
        """Size of a record in bytes (`int`, read-only)."""
        return self._size

    def run(self) -> typing.Any:
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        buffer = self._buffer
        while self.active:
            count = len(buffer._data) // self._size
            if count == 0:
                return None
            nbytes = count * self._size
            records = self._wrap(bytearray(buffer._data[:nbytes]), count)
            buffer._consume(nbytes)
            self._delivered += count
            result = self._callback(records)
            if result is not None:
                return result
        return None

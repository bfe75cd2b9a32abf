"""Compiled push kernels; their twin is ``tcpframe._kernels.push_pure``.

A pusher walks the complete messages at the front of a compiled
`ReceiveBuffer` and calls a callback with each one (or, for records, once
with a view of all of them), straight from the buffer's storage. Each
message is consumed before its callback is called. A walk stops at the
first incomplete message, when `Pusher.active` is cleared (a callback may
clear it), or when a callback returns something other than None, which
`Pusher.run` then returns (the caller's back-pressure: an awaitable).
An exception raised by a take or a callback propagates; the messages
before it, and the one whose callback raised, are consumed.
"""

__all__ = ["ChecksummedPusher", "FramePusher", "LinePusher", "Pusher", "RecordPusher", "StructPusher"]

cimport cython
from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy

from byte_rules cimport acquire_writable, decode_line
from tcpframe._kernels.receive_buffer_compiled cimport ReceiveBuffer, StorageSpan

from codecs import lookup as codecs_lookup

from tcpframe._kernels import frames_compiled as frames
from tcpframe._kernels.receive_buffer_compiled import check_separator


cdef class Pusher:
    """Base of the pushers: the buffer, the callback and the walk's state.

    Attributes
    ----------
    active : `bool`
        The walk goes on while this is True; clear it to stop (also from
        inside a callback: the walk stops after that callback).
    delivered : `int`
        Messages delivered so far (records, for `RecordPusher`).
    """

    cdef ReceiveBuffer buffer
    cdef object callback
    cdef public bint active
    cdef readonly Py_ssize_t delivered

    def __init__(self, ReceiveBuffer buffer not None, callback):
        self.buffer = buffer
        self.callback = callback
        self.active = True

    cpdef object run(self):
        """Deliver every complete buffered message while `active`.

        Returns
        -------
        result : object
            None once no complete message is left or `active` is cleared;
            otherwise what the callback that stopped the walk returned.
        """
        raise NotImplementedError


@cython.final
cdef class StructPusher(Pusher):
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

    cdef Py_buffer view
    cdef bint has_view
    cdef object target
    cdef object item
    cdef readonly Py_ssize_t size

    def __init__(self, ReceiveBuffer buffer not None, target, item, callback):
        Pusher.__init__(self, buffer, callback)
        cdef Py_buffer view
        acquire_writable(target, &view)
        if view.len == 0:
            PyBuffer_Release(&view)
            raise ValueError(f"cannot push structs of size 0 ({type(target).__name__})")
        if self.has_view:
            PyBuffer_Release(&self.view)
        self.view = view
        self.has_view = True
        self.target = target
        self.item = item
        self.size = view.len

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cpdef object run(self):
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        cdef ReceiveBuffer buffer = self.buffer
        cdef Py_ssize_t size = self.size
        cdef object result
        while self.active and buffer.end - buffer.start >= size:
            memcpy(self.view.buf, buffer.storage + buffer.start, size)
            buffer.consume(size)
            self.delivered += 1
            result = self.callback(self.item)
            if result is not None:
                return result
        return None


@cython.final
cdef class LinePusher(Pusher):
    """Push lines ending in ``separator``, without it: `str` decoded
    (strict) with ``encoding``, or `bytes` if ``encoding`` is None.

    A line that does not decode is consumed and raises
    `UnicodeDecodeError`; a separator not within ``limit`` bytes raises
    `asyncio.LimitOverrunError` (nothing consumed), as
    `ReceiveBuffer.take_until`.
    """

    cdef bytes separator
    cdef Py_ssize_t limit
    cdef str encoding
    cdef bytes encoding_c
    cdef bint utf8

    def __init__(self, ReceiveBuffer buffer not None, separator, Py_ssize_t limit, encoding, callback):
        Pusher.__init__(self, buffer, callback)
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        self.separator = check_separator(separator)
        self.limit = limit
        if encoding is not None:
            self.utf8 = codecs_lookup(encoding).name == "utf-8"
            self.encoding = encoding
            self.encoding_c = encoding.encode("ascii")

    cpdef object run(self):
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        cdef ReceiveBuffer buffer = self.buffer
        cdef Py_ssize_t index
        cdef Py_ssize_t separator_size = PyBytes_GET_SIZE(self.separator)
        cdef object line
        cdef object result
        while self.active:
            index = buffer.locate_separator(self.separator, self.limit)
            if index < 0:
                return None
            try:
                if self.encoding is None:
                    line = PyBytes_FromStringAndSize(buffer.storage + buffer.start, index)
                else:
                    line = decode_line(buffer.storage + buffer.start, index, self.encoding_c, self.utf8)
            finally:
                buffer.consume(index + separator_size)
            self.delivered += 1
            result = self.callback(line)
            if result is not None:
                return result
        return None


@cython.final
cdef class FramePusher(Pusher):
    """Push the payloads of length-prefixed frames (`bytes`); raises as
    `take_length_prefixed`."""

    cdef object prefix

    def __init__(self, ReceiveBuffer buffer not None, prefix, callback):
        Pusher.__init__(self, buffer, callback)
        self.prefix = prefix

    cpdef object run(self):
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        cdef object payload
        cdef object result
        take = frames.take_length_prefixed
        while self.active:
            payload = take(self.buffer, self.prefix)
            if payload is None:
                return None
            self.delivered += 1
            result = self.callback(payload)
            if result is not None:
                return result
        return None


@cython.final
cdef class ChecksummedPusher(Pusher):
    """Push the verified bodies of checksummed frames (`bytes`); raises as
    `take_checksummed` (a bad frame is consumed)."""

    cdef object framing
    cdef Py_ssize_t limit

    def __init__(self, ReceiveBuffer buffer not None, framing, Py_ssize_t limit, callback):
        Pusher.__init__(self, buffer, callback)
        self.framing = framing
        self.limit = limit

    cpdef object run(self):
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        cdef object body
        cdef object result
        take = frames.take_checksummed
        while self.active:
            body = take(self.buffer, self.framing, self.limit)
            if body is None:
                return None
            self.delivered += 1
            result = self.callback(body)
            if result is not None:
                return result
        return None


@cython.final
cdef class RecordPusher(Pusher):
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

    cdef readonly Py_ssize_t size
    cdef object wrap

    def __init__(self, ReceiveBuffer buffer not None, Py_ssize_t record_size, wrap, callback):
        Pusher.__init__(self, buffer, callback)
        if record_size <= 0:
            raise ValueError(f"record_size must be positive, not {record_size}")
        self.size = record_size
        self.wrap = wrap

    cpdef object run(self):
        """Deliver every complete buffered message while `active` (`Pusher.run`)."""
        cdef ReceiveBuffer buffer = self.buffer
        cdef Py_ssize_t count
        cdef StorageSpan data
        while self.active:
            count = (buffer.end - buffer.start) // self.size
            if count == 0:
                return None
            data = StorageSpan.__new__(StorageSpan)
            data.memory = buffer.memory
            data.offset = buffer.start
            data.size = count * self.size
            data.stride = 1
            records = self.wrap(data, count)
            # The block stays alive while `data` does, whatever consume does.
            buffer.consume(count * self.size)
            self.delivered += count
            result = self.callback(records)
            if result is not None:
                return result
        return None

"""Compiled receive buffer; its twin is ``tcpframe._kernels.receive_buffer_pure``.

All unread bytes live in one growable block of memory. The transport
receives straight into its free tail (`ReceiveBuffer.get_buffer`), readers
copy out of its front with one ``memcpy`` each, and separator scans use
``memchr``/``memmem`` and never look at a byte twice. The block is sized
by the memory rule of `tcpframe.receive_sizes`.
"""

__all__ = ["ReceiveBuffer", "SeparatedTakes"]

from asyncio import LimitOverrunError
from codecs import lookup as codecs_lookup

cimport cython
from cpython.buffer cimport (
    PyBUF_FORMAT,
    PyBUF_ND,
    PyBUF_SIMPLE,
    PyBUF_STRIDES,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.memoryview cimport PyMemoryView_FromObject
from libc.string cimport memchr, memcmp, memcpy, memmove, memset

from byte_rules cimport acquire_writable, decode_line

from tcpframe.receive_sizes import MAX_RECEIVE_SIZE, MIN_RECEIVE_SIZE

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

cdef extern from "string.h" nogil:
    # GNU extension; setup.py defines _GNU_SOURCE.
    void* memmem(const void* haystack, size_t haystacklen,
                 const void* needle, size_t needlelen)


cdef Py_ssize_t anchor_index(const unsigned char* needle, Py_ssize_t length) noexcept:
    """Return the index of the last byte found only once in ``needle``.

    Returns the index of the last byte if every byte repeats.
    """
    cdef Py_ssize_t counts[256]
    cdef Py_ssize_t i
    memset(counts, 0, sizeof(counts))
    for i in range(length):
        counts[needle[i]] += 1
    for i in range(length - 1, -1, -1):
        if counts[needle[i]] == 1:
            return i
    return length - 1


cdef inline const char* search(
    const char* haystack, Py_ssize_t size,
    const char* needle, Py_ssize_t length, Py_ssize_t anchor,
) noexcept:
    """Return the first occurrence of ``needle`` in ``haystack``, or NULL.

    Caller must ensure ``size >= length >= 1`` and pass the needle's
    `anchor_index`. ``memchr`` (vectorised in glibc, several times faster
    than ``memmem``) finds the first place the anchor byte can be; as it
    occurs once in the needle, that is nearly always a separator. After a
    near miss ``memmem`` takes over, so the scan stays linear.
    """
    cdef const char* found = <const char*>memchr(
        haystack + anchor, needle[anchor], size - length + 1
    )
    if found == NULL:
        return NULL
    cdef const char* candidate = found - anchor
    if memcmp(candidate, needle, length) == 0:
        return candidate
    return <const char*>memmem(
        candidate + 1, size - (candidate + 1 - haystack), needle, length
    )


def check_separator(separator: object) -> bytes:
    """Return ``separator`` as bytes, or raise for an unusable separator."""
    if not isinstance(separator, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"separator must be bytes, not {type(separator).__name__}"
        )
    cdef bytes checked = bytes(separator)
    if PyBytes_GET_SIZE(checked) == 0:
        raise ValueError("Separator should be at least one-byte string")
    return checked


@cython.final
cdef class Storage:
    """A block of receive-buffer memory (see ``receive_buffer_compiled.pxd``)."""

    def __dealloc__(self):
        PyMem_Free(self.data)


# get_buffer could wrap the free tail with PyMemoryView_FromMemory, but that
# view would not own the memory: a caller keeping it past the next
# get_buffer/feed would write into freed storage after a realloc. A StorageSpan
# instead keeps its Storage block alive and counts its exports there; the
# buffer never reallocates or moves bytes within a block that has live
# exports, it moves to a new block instead (see make_room).
# The cost, one small object per get_buffer, is paid once per recv call.
@cython.final
cdef class StorageSpan:
    """Exporter of a span of a storage block: the free tail that a
    `ReceiveBuffer` offers for receiving, or a push's complete records."""

    def __getbuffer__(self, Py_buffer* view, int flags):
        # The address is computed per export: the block may have been
        # reallocated (it had no exports then) since this tail was offered,
        # but it only ever grows (a release moves the buffer to a new
        # Storage), so offset + size still lies within it.
        view.buf = self.memory.data + self.offset
        view.obj = self
        view.len = self.size
        view.readonly = 0
        view.itemsize = 1
        view.format = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        view.ndim = 1
        view.shape = &self.size if flags & PyBUF_ND else NULL
        view.strides = &self.stride if flags & PyBUF_STRIDES else NULL
        view.suboffsets = NULL
        view.internal = NULL
        self.memory.exports += 1

    def __releasebuffer__(self, Py_buffer* view):
        self.memory.exports -= 1


@cython.final
cdef class ReceiveBuffer:
    """Bytes received from a transport and not yet read.

    A protocol feeds the buffer with `get_buffer` / `buffer_updated` (as an
    `asyncio.BufferedProtocol` does) or with `feed`; readers take bytes out
    of the front. Separator scanning resumes where the previous scan for the
    same separator stopped, so no byte is scanned twice.

    Its memory follows the rule of `tcpframe.receive_sizes`: none while
    idle, receives that grow while data flows fast, large allocations
    given back when it stops and after one large message.

    Parameters
    ----------
    min_receive_size : `int`, optional
        The first and smallest `receive_size`.
    max_receive_size : `int`, optional
        The largest `receive_size` the buffer grows to by itself.
    """

    def __init__(
        self,
        Py_ssize_t min_receive_size=MIN_RECEIVE_SIZE,
        Py_ssize_t max_receive_size=MAX_RECEIVE_SIZE,
    ):
        if min_receive_size < 1:
            raise ValueError(f"min_receive_size must be positive, not {min_receive_size}")
        if max_receive_size < min_receive_size:
            raise ValueError(
                f"max_receive_size={max_receive_size} is below min_receive_size={min_receive_size}"
            )
        self.min_receive_size = self.next_receive_size = min_receive_size
        self.max_receive_size = max_receive_size
        self.memory = Storage.__new__(Storage)
        self.start = self.end = 0
        self.offered = 0
        self.scan_separator = None
        self.scan_from = 0

    def __len__(self):
        return self.end - self.start

    @property
    def receive_size(self):
        """What `get_buffer` offers next without a larger ``sizehint``
        (`int`, read-only)."""
        return self.next_receive_size

    @property
    def allocated(self):
        """Bytes of memory held for the unread bytes and the next receive
        (`int`, read-only)."""
        return self.capacity

    def get_buffer(self, Py_ssize_t sizehint=-1):
        """Return a writable buffer for the transport to receive into.

        The buffer is valid until the next call to `get_buffer` or `feed`;
        one still held then is left alone (the bytes it receives are not
        buffered), so a caller may ask for the next buffer first.

        Parameters
        ----------
        sizehint : `int`, optional
            Wanted size. Exactly ``max(sizehint, receive_size)`` bytes are
            offered, so one receive adds at most that much.
        """
        cdef Py_ssize_t size = max(sizehint, self.next_receive_size)
        self.make_room(size)
        cdef StorageSpan tail = StorageSpan.__new__(StorageSpan)
        tail.memory = self.memory
        tail.offset = self.end
        tail.size = size
        tail.stride = 1
        self.offered = tail.size
        return PyMemoryView_FromObject(tail)

    def buffer_updated(self, Py_ssize_t nbytes):
        """Commit ``nbytes`` received into the buffer from `get_buffer`.

        A receive that fills its offer doubles `receive_size` (up to the
        maximum); one that gets at most half of it halves it (down to the
        minimum).
        """
        if not 0 <= nbytes <= self.offered:
            raise ValueError(f"nbytes={nbytes} is outside the offered buffer")
        self.end += nbytes
        self.caught_up = nbytes < self.offered
        if not self.caught_up:
            self.next_receive_size = min(2 * self.next_receive_size, self.max_receive_size)
        elif 2 * nbytes <= self.offered:
            self.next_receive_size = max(self.next_receive_size // 2, self.min_receive_size)
        self.offered = 0
        self.note_unread()

    def feed(self, data):
        """Append a copy of the bytes-like ``data``."""
        if isinstance(data, str):
            raise TypeError("data must be bytes-like, not str")
        cdef Py_buffer view
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except (TypeError, ValueError, BufferError):
            raise TypeError(
                f"data must be a contiguous bytes-like object, not {type(data).__name__}"
            ) from None
        try:
            self.make_room(view.len)
            memcpy(self.storage + self.end, view.buf, view.len)
            self.end += view.len
            self.offered = 0
            self.note_unread()
        finally:
            PyBuffer_Release(&view)

    def clear(self):
        """Discard all buffered bytes."""
        self.consume(self.end - self.start)

    def peek(self, Py_ssize_t n):
        """Return up to ``n`` bytes from the front without consuming them."""
        if n < 0:
            raise ValueError(f"n must not be negative, not {n}")
        return PyBytes_FromStringAndSize(
            self.storage + self.start, min(n, self.end - self.start)
        )

    def skip(self, Py_ssize_t n):
        """Discard up to ``n`` bytes from the front; return how many."""
        if n < 0:
            raise ValueError(f"n must not be negative, not {n}")
        n = min(n, self.end - self.start)
        self.consume(n)
        return n

    def take(self, Py_ssize_t n=-1):
        """Consume and return up to ``n`` bytes (all of them if ``n < 0``)."""
        if n < 0 or n > self.end - self.start:
            n = self.end - self.start
        return self.take_bytes(n)

    def take_exactly(self, Py_ssize_t n):
        """Consume and return exactly ``n`` bytes, or None if fewer are buffered.

        Raises
        ------
        ValueError
            If ``n`` is negative.
        """
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        if self.end - self.start < n:
            return None
        return self.take_bytes(n)

    def find(self, separator):
        """Return the offset of ``separator`` in the buffered bytes, or -1.

        Scanning resumes where the previous `find` of the same separator
        stopped.

        Raises
        ------
        TypeError
            If ``separator`` is not bytes-like.
        ValueError
            If ``separator`` is empty.
        """
        return self.find_separator(self.scan_for(separator))

    def take_until(self, separator, Py_ssize_t limit):
        """Consume and return the bytes up to and including ``separator``.

        Follows `asyncio.StreamReader.readuntil`: the separator must start
        within ``limit`` bytes of the front.

        Returns
        -------
        chunk : `bytes` | None
            The bytes through the separator, or None if the separator is not
            buffered yet (nothing is consumed).

        Raises
        ------
        asyncio.LimitOverrunError
            If the separator starts beyond ``limit``, or is not buffered and
            the buffered bytes already exceed ``limit``. Nothing is consumed;
            ``consumed`` is the offending offset.
        """
        return self.take_until_within(separator, limit)

    cdef object take_until_within(self, object separator, Py_ssize_t limit):
        cdef Py_ssize_t index = self.locate_separator(separator, limit)
        if index < 0:
            return None
        return self.take_bytes(index + PyBytes_GET_SIZE(self.scan_separator))

    def separator_arrived(self, separator, Py_ssize_t limit):
        """Return True if `take_until` with these arguments would not
        return None now: the separator is buffered, or the bytes break the
        limit (then it raises).

        Raises
        ------
        TypeError, ValueError
            For a separator or limit that `take_until` rejects.
        """
        try:
            return self.locate_separator(separator, limit) >= 0
        except LimitOverrunError:
            return True

    def take_line(self, separator, Py_ssize_t limit, str encoding not None):
        """Consume a line through ``separator``; return it decoded, without
        the separator.

        Like `take_until` followed by stripping and a strict decode, in one
        step and with no intermediate `bytes`.

        Returns
        -------
        line : `str` | None
            The decoded line, or None if the separator is not buffered yet
            (nothing is consumed).

        Raises
        ------
        asyncio.LimitOverrunError
            As `take_until`; nothing is consumed.
        UnicodeDecodeError
            If the line is not valid ``encoding``; the line is consumed.
        LookupError
            If ``encoding`` is not a known codec; nothing is consumed.
        """
        return self.take_line_within(separator, limit, encoding)

    cdef object take_line_within(self, object separator, Py_ssize_t limit, str encoding):
        if encoding is not self.line_encoding:
            self.line_utf8 = codecs_lookup(encoding).name == "utf-8"
            self.line_encoding_c = encoding.encode("ascii")
            self.line_encoding = encoding
        cdef Py_ssize_t index = self.locate_separator(separator, limit)
        if index < 0:
            return None
        try:
            return decode_line(self.storage + self.start, index, self.line_encoding_c, self.line_utf8)
        finally:
            # The line is consumed even if it does not decode.
            self.consume(index + PyBytes_GET_SIZE(self.scan_separator))

    def copy_into(self, target):
        """Fill the writable buffer ``target`` from the front, all or nothing.

        Parameters
        ----------
        target : writable C-contiguous buffer
            For example a `ctypes.Structure`, `bytearray` or numpy array.

        Returns
        -------
        filled : `bool`
            True if ``target`` was filled and its size consumed; False if
            fewer bytes are buffered (nothing is copied or consumed).

        Raises
        ------
        TypeError
            If ``target`` is not a buffer or is read-only.
        ValueError
            If ``target`` is not C-contiguous.
        """
        return self.fill(target) == 1

    cdef int fill(self, object target) except -1:
        cdef Py_buffer view
        acquire_writable(target, &view)
        try:
            if view.len > self.end - self.start:
                return 0
            if view.len:
                memcpy(view.buf, self.storage + self.start, view.len)
                self.consume(view.len)
            return 1
        finally:
            PyBuffer_Release(&view)

    cdef int make_room(self, Py_ssize_t size) except -1:
        cdef Py_ssize_t unread = self.end - self.start
        cdef Py_ssize_t capacity
        cdef char* storage
        if unread == 0:
            self.start = self.end = 0
        if self.capacity - self.end >= size:
            return 0
        if self.memory.exports:
            # A view of a free tail is still alive: asyncio's TLS layer asks
            # for the next buffer before it drops the last. Leave the block
            # to the view and carry on in a new one.
            return self.move_to_new_block(size)
        # Compact only when the consumed prefix is at least as long as the
        # unread bytes, so every byte moved is paid for by a byte consumed
        # and a slowly drained buffer is not moved over and over.
        if self.capacity - unread >= size and self.start >= unread:
            memmove(self.storage, self.storage + self.start, unread)
            self.start = 0
            self.end = unread
            return 0
        capacity = self.grown_capacity(size)
        if self.start:
            memmove(self.storage, self.storage + self.start, unread)
            self.start = 0
            self.end = unread
        storage = <char*>PyMem_Realloc(self.storage, capacity)
        if storage == NULL:
            raise MemoryError(f"cannot grow the receive buffer to {capacity} bytes")
        self.storage = self.memory.data = storage
        self.capacity = capacity
        return 0

    cdef void note_unread(self) noexcept:
        """Note a large message, and whether a take may release memory."""
        if self.end - self.start > self.max_receive_size:
            self.held_large = True
        self.release_due = self.caught_up or self.held_large

    cdef void release(self) noexcept:
        # A new Storage, not the old one emptied: a free tail cut from the
        # old block keeps it alive (and frees it when it goes).
        cdef Py_ssize_t unread = self.end - self.start
        cdef Storage memory
        self.held_large = False
        # With bytes unread, the take that empties the buffer releases again.
        self.release_due = unread != 0
        if unread and self.capacity <= self.min_receive_size:
            return
        try:
            memory = Storage.__new__(Storage)
        except MemoryError:
            return  # keep the block: releasing is not worth an error
        if unread:
            memory.data = <char*>PyMem_Malloc(self.min_receive_size)
            if memory.data == NULL:
                return
            memcpy(memory.data, self.storage + self.start, unread)
        self.memory = memory
        self.storage = memory.data
        self.capacity = self.min_receive_size if unread else 0
        self.start = 0
        self.end = unread

    cdef int move_to_new_block(self, Py_ssize_t size) except -1:
        """Copy the unread bytes to the front of a new block with ``size``
        bytes free after them, and make it the storage."""
        cdef Py_ssize_t unread = self.end - self.start
        cdef Py_ssize_t capacity = self.capacity
        if capacity - unread < size:
            capacity = self.grown_capacity(size)
        cdef Storage memory = Storage.__new__(Storage)
        memory.data = <char*>PyMem_Malloc(capacity)
        if memory.data == NULL:
            raise MemoryError(f"cannot allocate a receive buffer of {capacity} bytes")
        memcpy(memory.data, self.storage + self.start, unread)
        self.memory = memory
        self.storage = memory.data
        self.capacity = capacity
        self.start = 0
        self.end = unread
        return 0

    cdef Py_ssize_t grown_capacity(self, Py_ssize_t size) except -1:
        """Return the capacity to grow to for ``size`` more bytes."""
        cdef Py_ssize_t unread = self.end - self.start
        if size > PY_SSIZE_T_MAX - unread:
            raise MemoryError(f"cannot buffer {size} more bytes")
        return max(2 * self.capacity, unread + size)

    cdef Py_ssize_t locate_separator(self, object separator, Py_ssize_t limit) except -2:
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        cdef bytes checked = self.scan_for(separator)
        cdef Py_ssize_t index = self.find_separator(checked)
        cdef Py_ssize_t offset
        if index < 0:
            offset = self.end - self.start + 1 - PyBytes_GET_SIZE(checked)
            if offset > limit:
                raise LimitOverrunError(
                    "Separator is not found, and chunk exceed the limit", offset
                )
            return -1
        if index > limit:
            raise LimitOverrunError(
                "Separator is found, but chunk is longer than limit", index
            )
        return index

    cdef bytes scan_for(self, object separator):
        if separator is self.scan_separator and separator is not None:
            return self.scan_separator
        cdef bytes checked = check_separator(separator)
        if self.scan_separator is None or checked != self.scan_separator:
            self.scan_separator = checked
            self.scan_anchor = anchor_index(
                <const unsigned char*>PyBytes_AS_STRING(checked), PyBytes_GET_SIZE(checked)
            )
            self.scan_from = 0
        return self.scan_separator

    cdef Py_ssize_t find_separator(self, bytes separator) noexcept:
        cdef const char* data = self.storage + self.start
        cdef Py_ssize_t unread = self.end - self.start
        cdef Py_ssize_t length = PyBytes_GET_SIZE(separator)
        cdef const char* found = NULL
        if unread - self.scan_from >= length:
            found = search(
                data + self.scan_from, unread - self.scan_from,
                PyBytes_AS_STRING(separator), length, self.scan_anchor,
            )
        if found == NULL:
            self.scan_from = max(0, unread + 1 - length)
            return -1
        self.scan_from = found - data
        return self.scan_from


@cython.final
cdef class SeparatedTakes:
    """The separated takes of one `ReceiveBuffer`, within a fixed limit.

    `take_until` and `take_line` are the buffer's, with ``limit`` given
    here: a reader binds them once, so that taking a line costs one call.

    Parameters
    ----------
    buffer : `ReceiveBuffer`
        The buffer to take from.
    limit : `int`
        The ``limit`` of every take.
    """

    def __init__(self, ReceiveBuffer buffer not None, Py_ssize_t limit):
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        self.buffer = buffer
        self.limit = limit

    def take_until(self, separator):
        """`ReceiveBuffer.take_until` of ``separator`` within `limit`."""
        return self.buffer.take_until_within(separator, self.limit)

    def take_line(self, separator, str encoding not None):
        """`ReceiveBuffer.take_line` of ``separator`` within `limit`."""
        return self.buffer.take_line_within(separator, self.limit, encoding)

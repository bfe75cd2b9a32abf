"""Declarations of ``tcpframe._kernels.receive_buffer_compiled`` for cimport.

Cython finds the ``.pxd`` of the module ``tcpframe._kernels.receive_buffer_compiled``
(built from ``ext/receive_buffer.pyx``) by its dotted name, so it sits in
the package, on setup.py's include path, and ships with it.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize


@cython.final
cdef class Storage:
    # One block of receive-buffer memory. It is freed when the last object
    # that refers to it goes: the ReceiveBuffer, while the block is its
    # storage, and each StorageSpan cut from it.
    cdef:
        char* data
        # Live buffer exports of spans of this block.
        Py_ssize_t exports


@cython.final
cdef class StorageSpan:
    # Exporter of bytes storage[offset:offset + size] of one block: the free
    # tail that get_buffer offers, or a push's complete records. A view of
    # it keeps the block alive and counts as one of its exports.
    cdef:
        Storage memory
        Py_ssize_t offset
        Py_ssize_t size
        Py_ssize_t stride


@cython.final
cdef class ReceiveBuffer:
    cdef:
        # The unread bytes are storage[start:end]; storage[end:capacity] is
        # free space that get_buffer offers to the transport. storage is
        # memory.data, kept here for the readers' hot paths.
        char* storage
        Storage memory
        Py_ssize_t start
        Py_ssize_t end
        Py_ssize_t capacity
        # The memory rule of tcpframe.receive_sizes: the receive size
        # get_buffer offers next and its bounds; whether the last receive
        # did not fill its offer, whether more than max_receive_size bytes
        # were unread since the last release, and so whether a take that
        # leaves at most min_receive_size unread bytes should release.
        Py_ssize_t next_receive_size
        Py_ssize_t min_receive_size
        Py_ssize_t max_receive_size
        bint caught_up
        bint held_large
        bint release_due
        # Size of the free tail offered by the last get_buffer; 0 once it is
        # committed by buffer_updated or overwritten by feed.
        Py_ssize_t offered
        # Separator of the last scan (None before the first), and the offset
        # relative to start where the next scan for it begins: no earlier
        # byte starts that separator.
        bytes scan_separator
        Py_ssize_t scan_from
        # Index in scan_separator of the byte that memchr looks for.
        Py_ssize_t scan_anchor
        # The encoding take_line last decoded with, its name as a C string
        # for PyUnicode_Decode, and whether it is UTF-8 (decoded directly).
        str line_encoding
        bytes line_encoding_c
        bint line_utf8

    # Caller must ensure 0 <= n <= self.end - self.start, and must hold no
    # pointer into storage across this call: it may release the storage.
    cdef inline void consume(self, Py_ssize_t n) noexcept:
        self.start += n
        self.scan_from = self.scan_from - n if self.scan_from > n else 0
        if self.release_due and self.end - self.start <= self.min_receive_size:
            self.release()

    # Caller must ensure 0 <= n <= self.end - self.start.
    cdef inline bytes take_bytes(self, Py_ssize_t n):
        cdef bytes chunk = PyBytes_FromStringAndSize(self.storage + self.start, n)
        self.consume(n)
        return chunk

    # Caller must ensure size >= 0, and must hold no pointer into storage
    # across this call: it may move the unread bytes to the front,
    # reallocate the storage or move to a new block.
    cdef int make_room(self, Py_ssize_t size) except -1

    # Records a receive's or feed's unread bytes for the memory rule.
    cdef void note_unread(self) noexcept

    # Caller must ensure end - start <= min_receive_size, and must hold no
    # pointer into storage across this call. Drops the storage (nothing
    # unread) or moves the unread bytes to a new block of min_receive_size
    # and stays due until a take empties it; keeps the block if no memory
    # is to be had.
    cdef void release(self) noexcept

    # Helpers of make_room, with its calling rule.
    cdef int move_to_new_block(self, Py_ssize_t size) except -1
    cdef Py_ssize_t grown_capacity(self, Py_ssize_t size) except -1

    # The body of copy_into: returns 1 if target was filled, 0 if fewer
    # bytes are buffered; raises as copy_into does.
    cdef int fill(self, object target) except -1

    # The bodies of take_until and take_line, for SeparatedTakes.
    cdef object take_until_within(self, object separator, Py_ssize_t limit)
    cdef object take_line_within(self, object separator, Py_ssize_t limit, str encoding)

    # Caller may pass any object; raises like take_until. Returns the index
    # of the separator (then self.scan_separator is it, as bytes), or -1 if
    # it is not buffered yet.
    cdef Py_ssize_t locate_separator(self, object separator, Py_ssize_t limit) except -2

    # Caller may pass any object; raises like check_separator. Returns the
    # separator as bytes, restarting the scan if it differs from the last.
    cdef bytes scan_for(self, object separator)

    # Caller must pass the bytes returned by scan_for for this scan.
    cdef Py_ssize_t find_separator(self, bytes separator) noexcept


@cython.final
cdef class SeparatedTakes:
    # The buffer whose separated takes these are, and their limit.
    cdef ReceiveBuffer buffer
    cdef readonly Py_ssize_t limit

"""Compiled struct copy kernels; their twin is ``tcpframe._kernels.structs_pure``.

Every kernel copies straight between buffers with ``memcpy``: no
intermediate ``bytes`` object is made on the way.
"""

__all__ = ["append_structs", "join_structs", "writable_nbytes", "writable_view"]

cimport cython
from cpython.buffer cimport PyBuffer_Release
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memcpy

from byte_rules cimport (
    NOT_A_BUFFER,
    NOT_C_CONTIGUOUS,
    acquire_c_contiguous,
    acquire_writable,
)


cdef int acquire_readable(object source, Py_buffer* view) except -1:
    # Caller must release ``view`` with PyBuffer_Release when this returns 0.
    if isinstance(source, str):
        raise TypeError("expected a bytes-like object, not str")
    cdef int fault = acquire_c_contiguous(source, view, False)
    if fault == NOT_A_BUFFER:
        raise TypeError(f"{type(source).__name__} does not support the buffer protocol")
    if fault == NOT_C_CONTIGUOUS:
        raise ValueError(f"{type(source).__name__} is not C-contiguous")
    return 0


@cython.final
cdef class StructViews:
    """The buffers of a sequence of structs, held until this is freed."""

    cdef tuple structs
    cdef Py_buffer* views
    cdef Py_ssize_t acquired
    cdef Py_ssize_t nbytes

    def __cinit__(self, structs):
        # A tuple, so that no callback run by a buffer export can change
        # how many items there are.
        self.structs = structs if type(structs) is tuple else tuple(structs)
        self.views = <Py_buffer*>PyMem_Malloc(len(self.structs) * sizeof(Py_buffer))
        if self.views == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.acquired):
            PyBuffer_Release(&self.views[i])
        PyMem_Free(self.views)

    cdef int acquire(self) except -1:
        # Acquire every buffer, in order, and total their sizes.
        for struct in self.structs:
            acquire_readable(struct, &self.views[self.acquired])
            self.nbytes += self.views[self.acquired].len
            self.acquired += 1
        return 0

    cdef void copy_to(self, char* out):
        # Caller must have called acquire and must provide self.nbytes
        # bytes at out.
        cdef Py_ssize_t i
        for i in range(self.acquired):
            memcpy(out, self.views[i].buf, self.views[i].len)
            out += self.views[i].len


def writable_view(target: object) -> memoryview:
    """Return a memoryview of ``target`` after checking it can be filled.

    Raises
    ------
    TypeError
        If ``target`` does not support the buffer protocol or is read-only.
    ValueError
        If ``target`` is not C-contiguous.
    """
    cdef Py_buffer view
    acquire_writable(target, &view)
    PyBuffer_Release(&view)
    return memoryview(target)


def writable_nbytes(target: object) -> int:
    """Return the size in bytes of a writable C-contiguous buffer.

    Raises
    ------
    TypeError
        If ``target`` does not support the buffer protocol or is read-only.
    ValueError
        If ``target`` is not C-contiguous.
    """
    cdef Py_buffer view
    acquire_writable(target, &view)
    cdef Py_ssize_t nbytes = view.len
    PyBuffer_Release(&view)
    return nbytes


def join_structs(structs) -> bytes:
    """Return the bytes of all ``structs``, concatenated, in one new object.

    Parameters
    ----------
    structs : iterable of C-contiguous buffers
        For example `ctypes.Structure` instances or numpy arrays.

    Raises
    ------
    TypeError
        If an item does not support the buffer protocol (`str` included).
    ValueError
        If an item is not C-contiguous.
    """
    cdef StructViews views = StructViews(structs)
    views.acquire()
    cdef bytes joined = PyBytes_FromStringAndSize(NULL, views.nbytes)
    views.copy_to(PyBytes_AS_STRING(joined))
    return joined


def append_structs(dest, structs) -> None:
    """Append the bytes of all ``structs`` to ``dest``.

    Raises
    ------
    TypeError
        If ``dest`` is not a `bytearray` or an item is not a buffer.
    ValueError
        If an item is not C-contiguous.
    """
    if not isinstance(dest, bytearray):
        raise TypeError(f"dest must be a bytearray, not {type(dest).__name__}")
    cdef StructViews views = StructViews(structs)
    views.acquire()
    # Raises BufferError, with dest unchanged, if an item shares dest's
    # memory (dest itself, or a view of it), as ``dest += item`` would.
    cdef Py_ssize_t old_nbytes = PyByteArray_GET_SIZE(dest)
    PyByteArray_Resize(dest, old_nbytes + views.nbytes)
    views.copy_to(PyByteArray_AS_STRING(dest) + old_nbytes)

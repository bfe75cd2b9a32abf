# Byte rules every compiled kernel shares, as ``cdef inline`` functions to
# cimport: the one definition, in the compiled kernels, of the
# buffer-acquire rule, the line decode, the hex digits and the 8-bit
# checksum loops. Their twins are in ``tcpframe._kernels.byte_rules_pure``
# (the line decode's is `bytes.decode`). Only inline functions live here,
# so no module is built from this file and none is imported at run time:
# each kernel compiles in what it uses. setup.py puts ``ext`` on Cython's
# include path.

from cpython.buffer cimport (
    PyBUF_FULL_RO,
    PyBuffer_IsContiguous,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.unicode cimport PyUnicode_Decode, PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t


# What acquire_c_contiguous found; anything but ACQUIRED leaves no view held.
cdef enum BufferFault:
    ACQUIRED = 0
    NOT_A_BUFFER
    READ_ONLY
    NOT_C_CONTIGUOUS


# Caller must release ``view`` with PyBuffer_Release when this returns
# ACQUIRED. Fills ``view`` from ``source`` if it is a C-contiguous buffer
# (and writable, if ``writable``); else returns the fault, for the caller
# to raise in its own words. Errors other than "not a buffer" propagate.
cdef inline int acquire_c_contiguous(object source, Py_buffer* view, bint writable) except -1:
    try:
        PyObject_GetBuffer(source, view, PyBUF_FULL_RO)
    except TypeError:
        return NOT_A_BUFFER
    if writable and view.readonly:
        PyBuffer_Release(view)
        return READ_ONLY
    if not PyBuffer_IsContiguous(view, c"C"):
        PyBuffer_Release(view)
        return NOT_C_CONTIGUOUS
    return ACQUIRED


# Caller must release ``view`` with PyBuffer_Release when this returns 0.
# Fills ``view`` from a writable C-contiguous buffer to copy into; raises
# TypeError (not a buffer, read-only) or ValueError (not C-contiguous).
cdef inline int acquire_writable(object target, Py_buffer* view) except -1:
    cdef int fault = acquire_c_contiguous(target, view, True)
    if fault == NOT_A_BUFFER:
        raise TypeError(f"{type(target).__name__} does not support the buffer protocol")
    if fault == READ_ONLY:
        raise TypeError(f"cannot read into a read-only {type(target).__name__}")
    if fault == NOT_C_CONTIGUOUS:
        raise ValueError(f"cannot read into a non-C-contiguous {type(target).__name__}")
    return 0


# Decodes a line's bytes strictly: with CPython's UTF-8 decoder directly if
# ``utf8`` (the caller looked up that ``encoding_c`` names UTF-8, once),
# else through PyUnicode_Decode, which looks the codec up by name each call.
cdef inline str decode_line(const char* data, Py_ssize_t size, bytes encoding_c, bint utf8):
    if utf8:
        return PyUnicode_DecodeUTF8(data, size, "strict")
    return PyUnicode_Decode(data, size, encoding_c, "strict")


# The value of the hex digit ``digit`` (either case), or -1 if it is not one.
cdef inline int hex_value(unsigned char digit) noexcept nogil:
    if b"0"[0] <= digit <= b"9"[0]:
        return digit - b"0"[0]
    if b"a"[0] <= digit <= b"f"[0]:
        return digit - b"a"[0] + 10
    if b"A"[0] <= digit <= b"F"[0]:
        return digit - b"A"[0] + 10
    return -1


# The hex digit of the low four bits of ``value``.
cdef inline char hex_digit(unsigned int value, bint uppercase) noexcept nogil:
    cdef const char* digits = b"0123456789ABCDEF" if uppercase else b"0123456789abcdef"
    return digits[value & 0xF]


# The 8-bit sum of ``n`` bytes at ``p``, carries discarded. A plain loop,
# so that the compiler vectorizes it.
cdef inline uint8_t sum8_of(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef uint8_t total = 0
    cdef Py_ssize_t i
    for i in range(n):
        total += p[i]
    return total


# The XOR of ``n`` bytes at ``p``.
cdef inline uint8_t xor8_of(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef uint8_t total = 0
    cdef Py_ssize_t i
    for i in range(n):
        total ^= p[i]
    return total

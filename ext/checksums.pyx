"""Checksum kernels: 8-bit sum and XOR, three CRC-16 variants and CRC-32.

Every function reads any C-contiguous buffer in place, without copying it.
The pure-Python twin is ``tcpframe._kernels.checksums_pure``; both give the same
results, bit for bit.
"""

__all__ = [
    "crc16_ccitt",
    "crc16_modbus",
    "crc16_xmodem",
    "crc32",
    "format_hex2",
    "sum8",
    "verify_hex2",
    "xor8",
]

from cpython.buffer cimport PyBuffer_Release
from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint8_t, uint16_t

from byte_rules cimport (
    NOT_A_BUFFER,
    NOT_C_CONTIGUOUS,
    acquire_c_contiguous,
    hex_digit,
    hex_value,
    sum8_of,
    xor8_of,
)

import zlib

# Buffers at least this long are checksummed with the GIL released. Below
# it, handing the GIL over and taking it back costs more than it frees.
cdef Py_ssize_t NOGIL_MIN_BYTES = 64 * 1024

cdef str BYTES_LIKE = "a bytes-like object"
cdef str BYTES_LIKE_OR_ASCII = "a bytes-like object or ASCII str"
cdef object zlib_crc32 = zlib.crc32


cdef str hex2(unsigned int checksum, bint uppercase):
    """Return the 8-bit ``checksum`` as two hex digits."""
    cdef char digits[2]
    digits[0] = hex_digit(checksum >> 4, uppercase)
    digits[1] = hex_digit(checksum, uppercase)
    return digits[:2].decode("ascii")


cdef tuple HEX2_LOWER = tuple([hex2(checksum, False) for checksum in range(256)])
cdef tuple HEX2_UPPER = tuple([hex2(checksum, True) for checksum in range(256)])


ctypedef enum Kernel:
    SUM8
    XOR8
    CRC16_MODBUS
    CRC16_CCITT  # also CRC-16/XMODEM, which only starts from another value

# Slicing-by-8 tables: entry [k][b] is what byte b followed by k zero bytes
# adds to the CRC register, so eight bytes advance the register with eight
# independent lookups instead of a chain of eight dependent ones.
cdef uint16_t MODBUS_TABLES[8][256]
cdef uint16_t CCITT_TABLES[8][256]


cdef void fill_lsb_first_tables16(
    uint16_t (*tables)[256], uint16_t polynomial
) noexcept:
    """Fill slicing tables for a reflected 16-bit CRC (``polynomial`` bit-reversed)."""
    cdef uint16_t crc
    cdef int byte, k
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (polynomial if crc & 1 else 0)
        tables[0][byte] = crc
    for k in range(1, 8):
        for byte in range(256):
            crc = tables[k - 1][byte]
            tables[k][byte] = (crc >> 8) ^ tables[0][crc & 0xFF]


cdef void fill_msb_first_tables16(
    uint16_t (*tables)[256], uint16_t polynomial
) noexcept:
    """Fill slicing tables for a non-reflected 16-bit CRC."""
    cdef uint16_t crc
    cdef int byte, k
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ (polynomial if crc & 0x8000 else 0)
        tables[0][byte] = crc
    for k in range(1, 8):
        for byte in range(256):
            crc = tables[k - 1][byte]
            tables[k][byte] = (crc << 8) ^ tables[0][crc >> 8]


fill_lsb_first_tables16(MODBUS_TABLES, 0xA001)
fill_msb_first_tables16(CCITT_TABLES, 0x1021)


cdef uint16_t crc16_lsb_first(
    uint16_t crc, const uint8_t* p, Py_ssize_t n, const uint16_t (*t)[256]
) noexcept nogil:
    """Advance a reflected 16-bit CRC register over ``n`` bytes."""
    while n >= 8:
        crc = (
            t[7][p[0] ^ (crc & 0xFF)] ^ t[6][p[1] ^ (crc >> 8)]
            ^ t[5][p[2]] ^ t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]]
            ^ t[1][p[6]] ^ t[0][p[7]]
        )
        p += 8
        n -= 8
    while n > 0:
        crc = (crc >> 8) ^ t[0][(crc ^ p[0]) & 0xFF]
        p += 1
        n -= 1
    return crc


cdef uint16_t crc16_msb_first(
    uint16_t crc, const uint8_t* p, Py_ssize_t n, const uint16_t (*t)[256]
) noexcept nogil:
    """Advance a non-reflected 16-bit CRC register over ``n`` bytes."""
    while n >= 8:
        crc = (
            t[7][p[0] ^ (crc >> 8)] ^ t[6][p[1] ^ (crc & 0xFF)]
            ^ t[5][p[2]] ^ t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]]
            ^ t[1][p[6]] ^ t[0][p[7]]
        )
        p += 8
        n -= 8
    while n > 0:
        crc = (crc << 8) ^ t[0][(crc >> 8) ^ p[0]]
        p += 1
        n -= 1
    return crc


cdef uint16_t run_kernel(
    Kernel kernel, uint16_t register, const uint8_t* p, Py_ssize_t n
) noexcept nogil:
    """Return ``register`` advanced over ``n`` bytes by ``kernel``."""
    if kernel == SUM8:
        return sum8_of(p, n)
    if kernel == XOR8:
        return xor8_of(p, n)
    if kernel == CRC16_MODBUS:
        return crc16_lsb_first(register, p, n, MODBUS_TABLES)
    return crc16_msb_first(register, p, n, CCITT_TABLES)


cdef int acquire(object data, Py_buffer* view, str function, str accepted) except -1:
    """Fill ``view`` with the bytes of ``data``, a C-contiguous buffer.

    The caller must release ``view`` with ``PyBuffer_Release``.
    """
    cdef int fault = acquire_c_contiguous(data, view, False)
    if fault == NOT_A_BUFFER:
        raise TypeError(
            f"{function}() argument must be {accepted}, not {type(data).__name__!r}"
        )
    if fault == NOT_C_CONTIGUOUS:
        raise ValueError(f"{function}() argument must be C-contiguous")
    return 0


cdef object checksum_buffer(
    object data, Kernel kernel, uint16_t register, str function, str accepted
):
    """Run ``kernel`` from ``register`` over the bytes of buffer ``data``."""
    cdef Py_buffer view
    acquire(data, &view, function, accepted)
    if view.len < NOGIL_MIN_BYTES:
        register = run_kernel(kernel, register, <const uint8_t*>view.buf, view.len)
    else:
        with nogil:
            register = run_kernel(kernel, register, <const uint8_t*>view.buf, view.len)
    PyBuffer_Release(&view)
    return register


cdef object ascii_bytes(object data):
    """Return ``data`` encoded as ASCII if it is a `str`, else unchanged."""
    return (<str>data).encode("ascii") if isinstance(data, str) else data


cdef uint16_t crc16_start(object value) except? 0:
    """Return the running-CRC ``value`` checked to fit 16 bits."""
    value = PyNumber_Index(value)
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"value must be in 0..0xFFFF, got {value}")
    return value


cdef object byte_checksum(object checksum):
    """Return ``checksum`` as an int checked to be in 0..255."""
    checksum = PyNumber_Index(checksum)
    if not 0 <= checksum <= 255:
        raise ValueError(f"checksum must be in 0..255, got {checksum}")
    return checksum


def sum8(data) -> int:
    """Return the 8-bit sum of the bytes of ``data``, carries discarded.

    Parameters
    ----------
    data : bytes-like or str
        Any C-contiguous buffer (`bytes`, `bytearray`, `memoryview`, numpy
        array, `ctypes` object) or an ASCII `str`.

    Returns
    -------
    checksum : int
        The sum of all bytes modulo 256, in 0..255; 0 for no bytes.

    Raises
    ------
    TypeError
        If ``data`` is neither a buffer nor a `str`.
    UnicodeEncodeError
        If ``data`` is a `str` with non-ASCII characters.
    ValueError
        If ``data`` is not C-contiguous.
    """
    return checksum_buffer(ascii_bytes(data), SUM8, 0, "sum8", BYTES_LIKE_OR_ASCII)


def xor8(data) -> int:
    """Return the XOR of the bytes of ``data``, as in NMEA 0183 sentences.

    Parameters
    ----------
    data : bytes-like or str
        Any C-contiguous buffer (`bytes`, `bytearray`, `memoryview`, numpy
        array, `ctypes` object) or an ASCII `str`.

    Returns
    -------
    checksum : int
        The XOR of all bytes, in 0..255; 0 for no bytes.

    Raises
    ------
    TypeError
        If ``data`` is neither a buffer nor a `str`.
    UnicodeEncodeError
        If ``data`` is a `str` with non-ASCII characters.
    ValueError
        If ``data`` is not C-contiguous.
    """
    return checksum_buffer(ascii_bytes(data), XOR8, 0, "xor8", BYTES_LIKE_OR_ASCII)


def crc16_modbus(data, value=0xFFFF) -> int:
    """Return the CRC-16/MODBUS of ``data``.

    Polynomial 0x8005, reflected, initial value 0xFFFF, no final XOR; the
    check value of ``b"123456789"`` is 0x4B37. Modbus RTU sends the CRC
    low byte first.

    Parameters
    ----------
    data : bytes-like
        Any C-contiguous buffer (`bytes`, `bytearray`, `memoryview`, numpy
        array, `ctypes` object).
    value : int, optional
        The CRC of the bytes before ``data``, to compute a running CRC:
        ``crc16_modbus(b, crc16_modbus(a)) == crc16_modbus(a + b)``.

    Returns
    -------
    crc : int
        The CRC, in 0..0xFFFF.

    Raises
    ------
    TypeError
        If ``data`` is not a buffer (`str` included) or ``value`` is not
        an integer.
    ValueError
        If ``data`` is not C-contiguous or ``value`` is not in 0..0xFFFF.
    """
    return checksum_buffer(
        data, CRC16_MODBUS, crc16_start(value), "crc16_modbus", BYTES_LIKE
    )


def crc16_ccitt(data, value=0xFFFF) -> int:
    """Return the CRC-16/CCITT-FALSE of ``data``.

    Polynomial 0x1021, not reflected, initial value 0xFFFF, no final XOR;
    the check value of ``b"123456789"`` is 0x29B1.

    Parameters
    ----------
    data : bytes-like
        Any C-contiguous buffer (`bytes`, `bytearray`, `memoryview`, numpy
        array, `ctypes` object).
    value : int, optional
        The CRC of the bytes before ``data``, to compute a running CRC:
        ``crc16_ccitt(b, crc16_ccitt(a)) == crc16_ccitt(a + b)``.

    Returns
    -------
    crc : int
        The CRC, in 0..0xFFFF.

    Raises
    ------
    TypeError
        If ``data`` is not a buffer (`str` included) or ``value`` is not
        an integer.
    ValueError
        If ``data`` is not C-contiguous or ``value`` is not in 0..0xFFFF.
    """
    return checksum_buffer(
        data, CRC16_CCITT, crc16_start(value), "crc16_ccitt", BYTES_LIKE
    )


def crc16_xmodem(data, value=0) -> int:
    """Return the CRC-16/XMODEM of ``data``.

    Polynomial 0x1021, not reflected, initial value 0, no final XOR; the
    check value of ``b"123456789"`` is 0x31C3. Same as `binascii.crc_hqx`.

    Parameters
    ----------
    data : bytes-like
        Any C-contiguous buffer (`bytes`, `bytearray`, `memoryview`, numpy
        array, `ctypes` object).
    value : int, optional
        The CRC of the bytes before ``data``, to compute a running CRC:
        ``crc16_xmodem(b, crc16_xmodem(a)) == crc16_xmodem(a + b)``.

    Returns
    -------
    crc : int
        The CRC, in 0..0xFFFF.

    Raises
    ------
    TypeError
        If ``data`` is not a buffer (`str` included) or ``value`` is not
        an integer.
    ValueError
        If ``data`` is not C-contiguous or ``value`` is not in 0..0xFFFF.
    """
    return checksum_buffer(
        data, CRC16_CCITT, crc16_start(value), "crc16_xmodem", BYTES_LIKE
    )


def crc32(data, value=0) -> int:
    """Return the CRC-32 of ``data``, the same value as `zlib.crc32`.

    Polynomial 0x04C11DB7, reflected, initial value and final XOR
    0xFFFFFFFF; the check value of ``b"123456789"`` is 0xCBF43926.

    Parameters
    ----------
    data : bytes-like
        Any C-contiguous buffer (`bytes`, `bytearray`, `memoryview`, numpy
        array, `ctypes` object).
    value : int, optional
        The CRC of the bytes before ``data``, to compute a running CRC:
        ``crc32(b, crc32(a)) == crc32(a + b)``. As in `zlib.crc32`, only
        its low 32 bits count.

    Returns
    -------
    crc : int
        The CRC, in 0..0xFFFFFFFF.

    Raises
    ------
    TypeError
        If ``data`` is not a buffer (`str` included) or ``value`` is not
        an integer.
    ValueError
        If ``data`` is not C-contiguous.
    """
    cdef Py_buffer view
    value = PyNumber_Index(value) & 0xFFFFFFFF
    acquire(data, &view, "crc32", BYTES_LIKE)
    cdef Py_ssize_t nbytes = view.len
    PyBuffer_Release(&view)
    if nbytes == 0:
        # Empty is contiguous, whatever its strides; zlib.crc32 would
        # refuse e.g. memoryview(b"")[::2] with BufferError.
        return value
    # zlib's braided C loop runs about 2.5 times faster than slicing-by-8 or
    # -16 tables here, and it releases the GIL for large buffers itself.
    return zlib_crc32(data, value)


def format_hex2(checksum, uppercase=False) -> str:
    """Return an 8-bit checksum as exactly two hex digits, e.g. ``"05"``.

    Parameters
    ----------
    checksum : int
        The checksum, in 0..255, e.g. from `sum8` or `xor8`.
    uppercase : bool, optional
        Write the digits a-f in upper case (``"0A"`` instead of ``"0a"``).

    Returns
    -------
    digits : str
        Two hex digits.

    Raises
    ------
    TypeError
        If ``checksum`` is not an integer.
    ValueError
        If ``checksum`` is not in 0..255.
    """
    checksum = byte_checksum(checksum)
    return HEX2_UPPER[checksum] if uppercase else HEX2_LOWER[checksum]


def verify_hex2(checksum, received) -> bool:
    """Return whether ``received`` spells ``checksum`` in two hex digits.

    Digits are accepted in either case: ``"0a"`` and ``"0A"`` both match 10.

    Parameters
    ----------
    checksum : int
        The checksum computed locally, in 0..255.
    received : str or bytes-like
        The two hex digits received with the message.

    Returns
    -------
    match : bool
        True if the digits are those of ``checksum``, False otherwise.

    Raises
    ------
    TypeError
        If ``checksum`` is not an integer or ``received`` is neither a `str`
        nor a buffer.
    UnicodeEncodeError
        If ``received`` is a `str` with non-ASCII characters.
    ValueError
        If ``checksum`` is not in 0..255 or ``received`` is not exactly two
        hex digits.
    """
    checksum = byte_checksum(checksum)
    cdef bytes digits = bytes(memoryview(ascii_bytes(received)))
    cdef int high = hex_value(digits[0]) if len(digits) == 2 else -1
    cdef int low = hex_value(digits[1]) if len(digits) == 2 else -1
    if high < 0 or low < 0:
        raise ValueError(f"received checksum must be two hex digits, got {received!r}")
    return (high << 4 | low) == checksum

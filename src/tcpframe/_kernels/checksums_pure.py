"""Pure-Python twin of the checksum kernels (``ext/checksums.pyx``).

Same names, signatures, docstrings and results as the compiled module. The
work is left to C-level built-ins wherever one fits: `sum` over bytes,
`int.from_bytes`, `binascii.crc_hqx` and `zlib.crc32`.
"""

from __future__ import annotations

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

import binascii
import functools
import sys
import typing
import zlib
from array import array
from operator import index

from .byte_rules_pure import BufferFault, acquire_c_contiguous, format_hex, is_hex

if typing.TYPE_CHECKING:
    from typing_extensions import Buffer

_BYTES_LIKE = "a bytes-like object"
_BYTES_LIKE_OR_ASCII = "a bytes-like object or ASCII str"
_HEX2_LOWER = tuple(format_hex(checksum, 2, False).decode() for checksum in range(256))
_HEX2_UPPER = tuple(format_hex(checksum, 2, True).decode() for checksum in range(256))


def _modbus_byte_step(crc: int) -> int:
    """Return the CRC-16/MODBUS register ``crc`` advanced over one zero byte."""
    for _ in range(8):
        crc = (crc >> 1) ^ (0xA001 if crc & 1 else 0)
    return crc


_MODBUS_BYTE_TABLE = [_modbus_byte_step(byte) for byte in range(256)]


@functools.cache
def _modbus_word_table() -> list[int]:
    """Return the CRC-16/MODBUS register after two zero bytes, per register.

    Read as little-endian 16-bit words ``w``, a message advances the register
    with ``crc = table[crc ^ w]``: half the Python-level steps of a byte loop,
    about three times faster. The table holds about 2 MB, so it is built on
    first use.
    """

    def after_two_zero_bytes(crc: int) -> int:
        for _ in range(2):
            crc = (crc >> 8) ^ _MODBUS_BYTE_TABLE[crc & 0xFF]
        return crc

    return [after_two_zero_bytes(crc) for crc in range(0x10000)]


def _byte_view(data: Buffer, function: str, accepted: str) -> memoryview:
    """Return the bytes of ``data``, a C-contiguous buffer, as a flat view."""
    view = acquire_c_contiguous(data, False)
    if isinstance(view, BufferFault):
        if view is BufferFault.NOT_A_BUFFER:
            raise TypeError(f"{function}() argument must be {accepted}, not {type(data).__name__!r}")
        raise ValueError(f"{function}() argument must be C-contiguous")
    # memoryview.cast refuses views with a zero in their shape.
    return view.cast("B") if view.nbytes else memoryview(b"")


def _ascii_bytes(data: Buffer | str) -> Buffer:
    """Return ``data`` encoded as ASCII if it is a `str`, else unchanged."""
    return data.encode("ascii") if isinstance(data, str) else data


def _crc16_start(value: typing.SupportsIndex) -> int:
    """Return the running-CRC ``value`` checked to fit 16 bits."""
    value = index(value)
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"value must be in 0..0xFFFF, got {value}")
    return value


def _byte_checksum(checksum: typing.SupportsIndex) -> int:
    """Return ``checksum`` as an int checked to be in 0..255."""
    checksum = index(checksum)
    if not 0 <= checksum <= 255:
        raise ValueError(f"checksum must be in 0..255, got {checksum}")
    return checksum


def sum8(data: Buffer | str) -> int:
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
    view = _byte_view(_ascii_bytes(data), "sum8", _BYTES_LIKE_OR_ASCII)
    # sum() walks bytes faster than a memoryview, enough to pay for the copy.
    return sum(view.tobytes()) & 0xFF


def xor8(data: Buffer | str) -> int:
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
    view = _byte_view(_ascii_bytes(data), "xor8", _BYTES_LIKE_OR_ASCII)
    # Fold the message, read as one big integer, onto its lower half until
    # one byte is left; byte lanes stay aligned, so the XOR is preserved.
    folded = int.from_bytes(view, "little")
    nbytes = len(view)
    while nbytes > 1:
        nbytes = (nbytes + 1) // 2
        bits = 8 * nbytes
        folded = (folded >> bits) ^ (folded & ((1 << bits) - 1))
    return folded


def crc16_modbus(data: Buffer, value: int = 0xFFFF) -> int:
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
    crc = _crc16_start(value)
    view = _byte_view(data, "crc16_modbus", _BYTES_LIKE)
    even = len(view) & ~1
    words = array("H")
    words.frombytes(view[:even])
    if sys.byteorder == "big":  # the words must be read little-endian
        words.byteswap()
    word_table = _modbus_word_table()
    for word in words:
        crc = word_table[crc ^ word]
    for byte in view[even:]:
        crc = (crc >> 8) ^ _MODBUS_BYTE_TABLE[(crc ^ byte) & 0xFF]
    return crc


def crc16_ccitt(data: Buffer, value: int = 0xFFFF) -> int:
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
    crc = _crc16_start(value)
    return binascii.crc_hqx(_byte_view(data, "crc16_ccitt", _BYTES_LIKE), crc)


def crc16_xmodem(data: Buffer, value: int = 0) -> int:
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
    crc = _crc16_start(value)
    return binascii.crc_hqx(_byte_view(data, "crc16_xmodem", _BYTES_LIKE), crc)


def crc32(data: Buffer, value: int = 0) -> int:
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
    value = index(value) & 0xFFFFFFFF
    return zlib.crc32(_byte_view(data, "crc32", _BYTES_LIKE), value)


def format_hex2(checksum: int, uppercase: bool = False) -> str:
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
    checksum = _byte_checksum(checksum)
    return _HEX2_UPPER[checksum] if uppercase else _HEX2_LOWER[checksum]


def verify_hex2(checksum: int, received: str | Buffer) -> bool:
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
    checksum = _byte_checksum(checksum)
    digits = bytes(memoryview(_ascii_bytes(received)))
    if len(digits) != 2 or not is_hex(digits):
        raise ValueError(f"received checksum must be two hex digits, got {received!r}")
    return int(digits, 16) == checksum

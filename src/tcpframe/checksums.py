"""Checksums for framed protocols: 8-bit sum and XOR, CRC-16s and CRC-32.

Each function accepts `bytes`, `bytearray`, `memoryview` or any other
C-contiguous buffer (numpy array, `ctypes` object) and returns an `int`.
`sum8` and `xor8` also accept an ASCII `str`. `format_hex2` and
`verify_hex2` write and check the two-hex-digit form of an 8-bit checksum
that text protocols append to a message.

The functions come from the compiled kernels, or from their pure-Python
twins when ``tcpframe.ACCELERATED`` is false; results are the same.
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

from ._kernels import checksums as _impl

sum8 = _impl.sum8
xor8 = _impl.xor8
crc16_modbus = _impl.crc16_modbus
crc16_ccitt = _impl.crc16_ccitt
crc16_xmodem = _impl.crc16_xmodem
crc32 = _impl.crc32
format_hex2 = _impl.format_hex2
verify_hex2 = _impl.verify_hex2

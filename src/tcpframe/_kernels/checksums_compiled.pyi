"""Checksum kernels: 8-bit sum and XOR, three CRC-16 variants and CRC-32."""

from typing_extensions import Buffer

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

def sum8(data: Buffer | str) -> int:
    """Return the 8-bit sum of the bytes of ``data``, carries discarded."""

def xor8(data: Buffer | str) -> int:
    """Return the XOR of the bytes of ``data``, as in NMEA 0183 sentences."""

def crc16_modbus(data: Buffer, value: int = 0xFFFF) -> int:
    """Return the CRC-16/MODBUS of ``data``."""

def crc16_ccitt(data: Buffer, value: int = 0xFFFF) -> int:
    """Return the CRC-16/CCITT-FALSE of ``data``."""

def crc16_xmodem(data: Buffer, value: int = 0) -> int:
    """Return the CRC-16/XMODEM of ``data``."""

def crc32(data: Buffer, value: int = 0) -> int:
    """Return the CRC-32 of ``data``, the same value as `zlib.crc32`."""

def format_hex2(checksum: int, uppercase: bool = False) -> str:
    """Return an 8-bit checksum as exactly two hex digits, e.g. ``"05"``."""

def verify_hex2(checksum: int, received: str | Buffer) -> bool:
    """Return whether ``received`` spells ``checksum`` in two hex digits."""

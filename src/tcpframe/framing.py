"""Framings for telemetry streams: length-prefixed and checksummed frames.

A `LengthPrefix` describes binary frames that start with their length; a
`ChecksumFrame` describes terminated frames that end with a checksum, such
as NMEA 0183 sentences (`NMEA`). Readers and writers take these as
arguments (`FrameReader.read_frame`, `FrameWriter.write_checksummed`, ...);
the kernels in ``tcpframe._kernels.frames`` parse, verify and encode the
frames.

These specs sit below the kernels: this module imports nothing of
tcpframe but its exceptions, and the kernels import it.
"""

from __future__ import annotations

__all__ = [
    "CHECKSUM_SIZES",
    "DEFAULT_LENGTH_PREFIX",
    "DEFAULT_MAX_FRAME_SIZE",
    "NMEA",
    "ChecksumFrame",
    "LengthPrefix",
]

import dataclasses
import sys
import typing
from collections.abc import Callable

from .errors import FrameError

if typing.TYPE_CHECKING:
    from typing_extensions import Buffer

# Default largest payload of a length-prefixed frame (bytes).
DEFAULT_MAX_FRAME_SIZE = 2**24

# Checksums a ChecksumFrame can carry, by name (a function of
# tcpframe.checksums), and their size in bytes.
CHECKSUM_SIZES = {
    "sum8": 1,
    "xor8": 1,
    "crc16_modbus": 2,
    "crc16_ccitt": 2,
    "crc16_xmodem": 2,
    "crc32": 4,
}

# Byte orders of a length prefix or a binary checksum, as for `int.to_bytes`.
ByteOrder = typing.Literal["big", "little"]
_BYTEORDERS = typing.get_args(ByteOrder)


@dataclasses.dataclass(frozen=True, slots=True)
class LengthPrefix:
    """The length prefix that starts each frame of a binary stream.

    A frame is the prefix, an unsigned integer, followed by the payload.

    Parameters
    ----------
    size : `int`, optional
        Size of the prefix in bytes: 1, 2, 4 or 8.
    byteorder : `str`, optional
        Byte order of the prefix: ``"big"`` (network order) or ``"little"``.
    includes_prefix : `bool`, optional
        Does the length count the prefix itself (length = size + payload)?
        If False, the length is the payload size.
    max_frame_size : `int`, optional
        Largest payload accepted, in bytes. A prefix that declares more
        (or, with ``includes_prefix``, less than ``size``) is a
        `~tcpframe.FrameError`, and its bytes are left unread.

    Raises
    ------
    ValueError
        If a parameter is not one of the values above, or
        ``max_frame_size`` is negative.
    """

    size: int = 4
    byteorder: ByteOrder = "big"
    includes_prefix: bool = False
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or self.size not in (1, 2, 4, 8):
            raise ValueError(f"size={self.size!r} must be 1, 2, 4 or 8")
        if self.byteorder not in _BYTEORDERS:
            raise ValueError(f"byteorder={self.byteorder!r} must be 'big' or 'little'")
        if not isinstance(self.includes_prefix, bool):
            raise ValueError(f"includes_prefix={self.includes_prefix!r} must be a bool")
        if (
            not isinstance(self.max_frame_size, int)
            or isinstance(self.max_frame_size, bool)
            or not 0 <= self.max_frame_size <= sys.maxsize - 8
        ):
            raise ValueError(f"max_frame_size={self.max_frame_size!r} must be a non-negative int")

    def encode(self, payload_size: int) -> bytes:
        """Return the prefix of a frame whose payload is ``payload_size`` bytes.

        Raises
        ------
        FrameError
            If the payload is larger than ``max_frame_size`` or its length
            does not fit the prefix.
        """
        if payload_size > self.max_frame_size:
            raise FrameError(
                f"a payload of {payload_size} bytes exceeds max_frame_size={self.max_frame_size}"
            )
        length = payload_size + self.size if self.includes_prefix else payload_size
        try:
            return length.to_bytes(self.size, self.byteorder)
        except OverflowError:
            raise FrameError(
                f"a payload of {payload_size} bytes does not fit a {self.size}-byte length prefix"
            ) from None


DEFAULT_LENGTH_PREFIX = LengthPrefix()


@dataclasses.dataclass(frozen=True, slots=True)
class ChecksumFrame:
    """A terminated frame that ends with a checksum of its contents.

    A frame is ``start + body + separator + checksum + terminator``. The
    defaults describe an NMEA 0183 sentence, ``$<body>*hh\\r\\n``, whose
    checksum is the `~tcpframe.checksums.xor8` of the body in two hex
    digits. Reading finds the frame's end at the first ``terminator`` and
    the checksum just before it, so the body may hold the start marker and
    the separator but not the terminator.

    Parameters
    ----------
    checksum : `str`, optional
        Name of a function of `tcpframe.checksums`: ``"sum8"``, ``"xor8"``,
        ``"crc16_modbus"``, ``"crc16_ccitt"``, ``"crc16_xmodem"`` or
        ``"crc32"``.
    encoding : `str`, optional
        How the checksum is written: ``"hex"``, as two hex digits per byte
        (either case is accepted when reading), or ``"binary"``, as 1, 2
        or 4 raw bytes in ``byteorder``. A binary checksum can contain the
        terminator; such a frame cannot be written (`encode` raises) and
        is not read correctly.
    start : `bytes`, optional
        Marker every frame starts with; may be empty.
    separator : `bytes`, optional
        Marker between the body and the checksum; may be empty.
    terminator : `bytes`, optional
        Marker every frame ends with; not empty.
    covers_start : `bool`, optional
        Does the checksum cover the start marker as well as the body? The
        separator is never covered.
    byteorder : `str`, optional
        Byte order of a binary checksum: ``"big"`` or ``"little"``.
    uppercase : `bool`, optional
        Write hex checksums with uppercase digits (as NMEA does)?

    Raises
    ------
    ValueError
        If a parameter is not one of the values above, or a marker is not
        `bytes`.
    """

    checksum: str = "xor8"
    encoding: str = "hex"
    start: bytes = b"$"
    separator: bytes = b"*"
    terminator: bytes = b"\r\n"
    covers_start: bool = False
    byteorder: ByteOrder = "big"
    uppercase: bool = True

    def __post_init__(self) -> None:
        if self.checksum not in CHECKSUM_SIZES:
            raise ValueError(f"checksum={self.checksum!r} must be one of {', '.join(CHECKSUM_SIZES)}")
        if self.encoding not in ("hex", "binary"):
            raise ValueError(f"encoding={self.encoding!r} must be 'hex' or 'binary'")
        for name in ("start", "separator", "terminator"):
            if not isinstance(getattr(self, name), bytes):
                raise ValueError(f"{name}={getattr(self, name)!r} must be bytes")
        if not self.terminator:
            raise ValueError("terminator must not be empty")
        if self.byteorder not in _BYTEORDERS:
            raise ValueError(f"byteorder={self.byteorder!r} must be 'big' or 'little'")

    def encode(self, body: bytes) -> bytes:
        """Return the frame that carries ``body``, checksum included.

        Parameters
        ----------
        body : bytes-like
            The frame's contents.

        Raises
        ------
        FrameError
            If the frame would hold its terminator before the end (in the
            body, or in a binary checksum), so that it could not be read.
        """
        return _frame_encoder(self, body)


NMEA = ChecksumFrame()


def _no_frame_encoder(framing: ChecksumFrame, body: Buffer) -> bytes:
    raise RuntimeError("no frame kernels: tcpframe._kernels hands them over when it loads")


# What `ChecksumFrame.encode` runs: the active frame kernels'
# ``encode_checksummed``, which the kernel switch (tcpframe._kernels) hands
# over with `use_frame_encoder` once it has picked the kernels. Encoding
# needs a checksum kernel, and this module, below the kernels, imports none.
_frame_encoder: Callable[[ChecksumFrame, Buffer], bytes] = _no_frame_encoder


def use_frame_encoder(encode: Callable[[ChecksumFrame, Buffer], bytes]) -> None:
    """Make `ChecksumFrame.encode` run ``encode``.

    The kernel switch, ``tcpframe._kernels``, calls this with the active
    frame kernels' ``encode_checksummed`` when it loads.

    Parameters
    ----------
    encode : callable
        ``encode(framing, body)`` returns the frame, as
        `ChecksumFrame.encode` documents.
    """
    global _frame_encoder
    _frame_encoder = encode

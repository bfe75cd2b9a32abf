"""Exceptions for frames that break their framing rules.

The frame kernels (compiled and pure-Python twin) raise these, so this
module imports nothing from tcpframe.
"""

from __future__ import annotations

__all__ = ["ChecksumMismatchError", "FrameError"]

import typing


class FrameError(ValueError):
    """A frame that does not follow its framing.

    For example a length prefix that declares more than ``max_frame_size``
    bytes, or a checksummed frame without its start marker or separator.

    Parameters
    ----------
    message : `str`
        What is wrong with the frame.
    frame : `bytes` or None, optional
        The bad frame, if it was consumed from the stream; None if its
        bytes were left unread.

    Attributes
    ----------
    frame : `bytes` or None
        The ``frame`` argument.
    """

    def __init__(self, message: str, frame: bytes | None = None) -> None:
        super().__init__(message)
        self.frame = frame

    def __reduce__(self) -> tuple[typing.Any, ...]:
        return type(self), (self.args[0], self.frame)


class ChecksumMismatchError(FrameError):
    """A checksummed frame whose checksum does not match its contents.

    The frame has been consumed, so the next read starts at the next frame.

    Parameters
    ----------
    checksum : `str`
        Name of the checksum, e.g. ``"xor8"``.
    expected : `int`
        The checksum computed from the frame's contents.
    received : `int`
        The checksum the frame carries.
    frame : `bytes`
        The whole frame, terminator included.

    Attributes
    ----------
    checksum, expected, received, frame
        The arguments.
    """

    def __init__(self, checksum: str, expected: int, received: int, frame: bytes) -> None:
        super().__init__(
            f"{checksum} checksum mismatch: expected 0x{expected:02X}, "
            f"received 0x{received:02X}, in frame {frame!r}",
            frame,
        )
        self.checksum = checksum
        self.expected = expected
        self.received = received

    def __reduce__(self) -> tuple[typing.Any, ...]:
        return type(self), (self.checksum, self.expected, self.received, self.frame)

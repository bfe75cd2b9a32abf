"""Compiled frame kernels; same API as ``tcpframe._kernels.frames_pure``."""

from typing_extensions import Buffer

from tcpframe.framing import ChecksumFrame, LengthPrefix

from .receive_buffer_compiled import ReceiveBuffer

__all__ = ["encode_checksummed", "length_prefixed_nbytes", "take_checksummed", "take_length_prefixed"]

def encode_checksummed(framing: ChecksumFrame, body: Buffer) -> bytes:
    """Return the frame that carries ``body``, checksum included."""

def take_length_prefixed(buffer: ReceiveBuffer, prefix: LengthPrefix) -> bytes | None:
    """Consume the next length-prefixed frame and return its payload."""

def length_prefixed_nbytes(buffer: ReceiveBuffer, prefix: LengthPrefix) -> int:
    """Return how many bytes the next length-prefixed frame needs buffered."""

def take_checksummed(buffer: ReceiveBuffer, framing: ChecksumFrame, limit: int) -> bytes | None:
    """Consume the next checksummed frame, verify it and return its body."""

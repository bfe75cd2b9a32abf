"""Compiled receive buffer; same API as ``tcpframe._kernels.receive_buffer_pure``."""

from typing import final

from typing_extensions import Buffer

__all__ = ["ReceiveBuffer", "SeparatedTakes"]

def check_separator(separator: object) -> bytes:
    """Return ``separator`` as bytes, or raise for an unusable separator."""

@final
class ReceiveBuffer:
    """Bytes received from a transport and not yet read."""

    def __init__(self, min_receive_size: int = 4096, max_receive_size: int = 262144) -> None: ...
    def __len__(self) -> int: ...
    @property
    def receive_size(self) -> int:
        """What `get_buffer` offers next without a larger ``sizehint``."""
    @property
    def allocated(self) -> int:
        """Bytes of memory held for the unread bytes and the next receive."""
    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Return a writable buffer for the transport to receive into.

        The buffer is valid until the next call to `get_buffer` or `feed`.
        """
    def buffer_updated(self, nbytes: int) -> None:
        """Commit ``nbytes`` received into the buffer from `get_buffer`."""
    def feed(self, data: Buffer) -> None:
        """Append a copy of the bytes-like ``data``."""
    def clear(self) -> None:
        """Discard all buffered bytes."""
    def peek(self, n: int) -> bytes:
        """Return up to ``n`` bytes from the front without consuming them."""
    def skip(self, n: int) -> int:
        """Discard up to ``n`` bytes from the front; return how many."""
    def take(self, n: int = -1) -> bytes:
        """Consume and return up to ``n`` bytes (all of them if ``n < 0``)."""
    def take_exactly(self, n: int) -> bytes | None:
        """Consume and return exactly ``n`` bytes, or None if fewer are buffered."""
    def find(self, separator: bytes | bytearray | memoryview) -> int:
        """Return the offset of ``separator`` in the buffered bytes, or -1."""
    def take_until(
        self, separator: bytes | bytearray | memoryview, limit: int
    ) -> bytes | None:
        """Consume and return the bytes up to and including ``separator``."""
    def separator_arrived(self, separator: bytes | bytearray | memoryview, limit: int) -> bool:
        """Return True if `take_until` with these arguments would not
        return None now: the separator is buffered, or the bytes break the
        limit (then it raises)."""
    def take_line(
        self, separator: bytes | bytearray | memoryview, limit: int, encoding: str
    ) -> str | None:
        """Consume a line through ``separator``; return it decoded, without
        the separator."""
    def copy_into(self, target: Buffer) -> bool:
        """Fill the writable buffer ``target`` from the front, all or nothing."""

@final
class SeparatedTakes:
    """The separated takes of one `ReceiveBuffer`, within a fixed limit."""

    @property
    def limit(self) -> int: ...
    def __init__(self, buffer: ReceiveBuffer, limit: int) -> None: ...
    def take_until(self, separator: bytes | bytearray | memoryview) -> bytes | None:
        """`ReceiveBuffer.take_until` of ``separator`` within `limit`."""
    def take_line(self, separator: bytes | bytearray | memoryview, encoding: str) -> str | None:
        """`ReceiveBuffer.take_line` of ``separator`` within `limit`."""

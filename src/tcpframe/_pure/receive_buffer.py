"""Pure-Python twin of the compiled receive buffer (``ext/receive_buffer.pyx``)."""

__all__ = ["ReceiveBuffer"]

import asyncio
import ctypes

DEFAULT_CHUNK_SIZE = 65536


def check_separator(separator: object) -> bytes:
    """Return ``separator`` as bytes, or raise for an unusable separator."""
    if not isinstance(separator, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"separator must be bytes, not {type(separator).__name__}"
        )
    checked = bytes(separator)
    if not checked:
        raise ValueError("Separator should be at least one-byte string")
    return checked


def writable_view(target: object) -> memoryview:
    """Return a memoryview of ``target`` after checking it can be filled.

    Raises
    ------
    TypeError
        If ``target`` does not support the buffer protocol or is read-only.
    ValueError
        If ``target`` is not C-contiguous.
    """
    try:
        view = memoryview(target)
    except TypeError:
        raise TypeError(
            f"{type(target).__name__} does not support the buffer protocol"
        ) from None
    if view.readonly:
        view.release()
        raise TypeError(f"cannot read into a read-only {type(target).__name__}")
    if not view.c_contiguous:
        view.release()
        raise ValueError(f"cannot read into a non-C-contiguous {type(target).__name__}")
    return view


class ReceiveBuffer:
    """Bytes received from a transport and not yet read.

    A protocol feeds the buffer with `get_buffer` / `buffer_updated` (as an
    `asyncio.BufferedProtocol` does) or with `feed`; readers take bytes out
    of the front. Separator scanning resumes where the previous scan for the
    same separator stopped, so no byte is scanned twice.

    Parameters
    ----------
    chunk_size : `int`, optional
        Minimum free space offered by `get_buffer`.
    """

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        self._chunk_size = chunk_size
        self._data = bytearray()
        # The twin receives into a scratch chunk and appends it to _data,
        # because a live export of _data would forbid consuming from it.
        self._scratch = bytearray(chunk_size)
        # Size of the view offered by the last get_buffer; 0 once committed.
        self._offered = 0
        self._scan_separator: bytes | None = None
        self._scan_from = 0

    def __len__(self) -> int:
        return len(self._data)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Return a writable buffer for the transport to receive into.

        The buffer is valid until the next call to `get_buffer` or `feed`.

        Parameters
        ----------
        sizehint : `int`, optional
            Wanted size; at least ``chunk_size`` bytes are offered anyway.
        """
        size = max(sizehint, self._chunk_size)
        if len(self._scratch) < size:
            self._scratch = bytearray(size)
        self._offered = len(self._scratch)
        # A new view each time: the caller may release it.
        return memoryview(self._scratch)

    def buffer_updated(self, nbytes: int) -> None:
        """Commit ``nbytes`` received into the buffer from `get_buffer`."""
        if not 0 <= nbytes <= self._offered:
            raise ValueError(f"nbytes={nbytes} is outside the offered buffer")
        with memoryview(self._scratch) as scratch:
            self._data += scratch[:nbytes]
        self._offered = 0

    def feed(self, data: object) -> None:
        """Append a copy of the bytes-like ``data``."""
        if isinstance(data, str):
            raise TypeError("data must be bytes-like, not str")
        message = f"data must be a contiguous bytes-like object, not {type(data).__name__}"
        try:
            view = memoryview(data)
        except TypeError:
            raise TypeError(message) from None
        # Through a memoryview: ``bytearray += ndarray`` would be numpy's add.
        with view:
            if not view.c_contiguous:
                raise TypeError(message)
            self._data += view
        self._offered = 0

    def clear(self) -> None:
        """Discard all buffered bytes."""
        self._consume_without_copy(len(self._data))

    def peek(self, n: int) -> bytes:
        """Return up to ``n`` bytes from the front without consuming them."""
        if n < 0:
            raise ValueError(f"n must not be negative, not {n}")
        return bytes(self._data[:n])

    def skip(self, n: int) -> int:
        """Discard up to ``n`` bytes from the front; return how many."""
        if n < 0:
            raise ValueError(f"n must not be negative, not {n}")
        n = min(n, len(self._data))
        self._consume_without_copy(n)
        return n

    def take(self, n: int = -1) -> bytes:
        """Consume and return up to ``n`` bytes (all of them if ``n < 0``)."""
        if n < 0 or n > len(self._data):
            n = len(self._data)
        return self._consume(n)

    def take_exactly(self, n: int) -> bytes | None:
        """Consume and return exactly ``n`` bytes, or None if fewer are buffered.

        Raises
        ------
        ValueError
            If ``n`` is negative.
        """
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        if len(self._data) < n:
            return None
        return self._consume(n)

    def find(self, separator: bytes) -> int:
        """Return the offset of ``separator`` in the buffered bytes, or -1.

        Scanning resumes where the previous `find` of the same separator
        stopped.

        Raises
        ------
        TypeError
            If ``separator`` is not bytes-like.
        ValueError
            If ``separator`` is empty.
        """
        if self._scan_separator is None or separator is not self._scan_separator:
            separator = check_separator(separator)
            if separator != self._scan_separator:
                self._scan_separator = separator
                self._scan_from = 0
        index = self._data.find(self._scan_separator, self._scan_from)
        if index < 0:
            self._scan_from = max(0, len(self._data) + 1 - len(self._scan_separator))
        else:
            self._scan_from = index
        return index

    def take_until(self, separator: bytes, limit: int) -> bytes | None:
        """Consume and return the bytes up to and including ``separator``.

        Follows `asyncio.StreamReader.readuntil`: the separator must start
        within ``limit`` bytes of the front.

        Returns
        -------
        chunk : `bytes` | None
            The bytes through the separator, or None if the separator is not
            buffered yet (nothing is consumed).

        Raises
        ------
        asyncio.LimitOverrunError
            If the separator starts beyond ``limit``, or is not buffered and
            the buffered bytes already exceed ``limit``. Nothing is consumed;
            ``consumed`` is the offending offset.
        """
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        index = self.find(separator)
        separator_length = len(self._scan_separator)
        if index < 0:
            offset = len(self._data) + 1 - separator_length
            if offset > limit:
                raise asyncio.LimitOverrunError(
                    "Separator is not found, and chunk exceed the limit", offset
                )
            return None
        if index > limit:
            raise asyncio.LimitOverrunError(
                "Separator is found, but chunk is longer than limit", index
            )
        return self._consume(index + separator_length)

    def copy_into(self, target: object) -> bool:
        """Fill the writable buffer ``target`` from the front, all or nothing.

        Parameters
        ----------
        target : writable C-contiguous buffer
            For example a `ctypes.Structure`, `bytearray` or numpy array.

        Returns
        -------
        filled : `bool`
            True if ``target`` was filled and its size consumed; False if
            fewer bytes are buffered (nothing is copied or consumed).

        Raises
        ------
        TypeError
            If ``target`` is not a buffer or is read-only.
        ValueError
            If ``target`` is not C-contiguous.
        """
        with writable_view(target) as view:
            nbytes = view.nbytes
        if len(self._data) < nbytes:
            return False
        if nbytes:
            (ctypes.c_char * nbytes).from_buffer(target).raw = self._data[:nbytes]
            self._consume_without_copy(nbytes)
        return True

    def _consume(self, n: int) -> bytes:
        chunk = bytes(self._data[:n])
        self._consume_without_copy(n)
        return chunk

    def _consume_without_copy(self, n: int) -> None:
        del self._data[:n]
        self._scan_from = max(0, self._scan_from - n)

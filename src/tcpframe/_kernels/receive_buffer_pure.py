"""Pure-Python twin of the compiled receive buffer (``ext/receive_buffer.pyx``)."""

__all__ = ["ReceiveBuffer", "SeparatedTakes"]

import asyncio
import codecs
import ctypes
import sys
import typing

from ..receive_sizes import MAX_RECEIVE_SIZE, MIN_RECEIVE_SIZE
from .byte_rules_pure import acquire_writable

# Types whose instances copy_into may keep a char array over (see
# ReceiveBuffer._byte_array_over).
_CTYPES_OBJECTS = (ctypes.Structure, ctypes.Union, ctypes.Array)
_REMEMBERED_TARGETS = 8


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


class ReceiveBuffer:
    """Bytes received from a transport and not yet read.

    A protocol feeds the buffer with `get_buffer` / `buffer_updated` (as an
    `asyncio.BufferedProtocol` does) or with `feed`; readers take bytes out
    of the front. Separator scanning resumes where the previous scan for the
    same separator stopped, so no byte is scanned twice.

    Its memory follows the rule of `tcpframe.receive_sizes`: none while
    idle, receives that grow while data flows fast, large allocations
    given back when it stops and after one large message.

    Parameters
    ----------
    min_receive_size : `int`, optional
        The first and smallest `receive_size`.
    max_receive_size : `int`, optional
        The largest `receive_size` the buffer grows to by itself.
    """

    def __init__(self, min_receive_size: int = MIN_RECEIVE_SIZE, max_receive_size: int = MAX_RECEIVE_SIZE) -> None:
        if min_receive_size < 1:
            raise ValueError(f"min_receive_size must be positive, not {min_receive_size}")
        if max_receive_size < min_receive_size:
            raise ValueError(f"max_receive_size={max_receive_size} is below min_receive_size={min_receive_size}")
        self._min_receive_size = self._receive_size = min_receive_size
        self._max_receive_size = max_receive_size
        self._data = bytearray()
        # The twin receives into a scratch area and appends it to _data,
        # because a live export of _data would forbid consuming from it.
        self._scratch = bytearray()
        # Size of the view offered by the last get_buffer; 0 once committed.
        self._offered = 0
        # The memory rule's state, as the compiled buffer's (see its .pxd).
        self._caught_up = False
        self._held_large = False
        self._release_due = False
        self._scan_separator: bytes | None = None
        self._scan_from = 0
        # The encoding take_line last checked (a str once it checked one).
        self._line_encoding: object = object()
        # For the ctypes objects copy_into filled lately, by id: the object
        # and a char array over it.
        self._target_arrays: dict[int, tuple[typing.Any, ctypes.Array[ctypes.c_char] | None]] = {}

    def __len__(self) -> int:
        return len(self._data)

    @property
    def receive_size(self) -> int:
        """What `get_buffer` offers next without a larger ``sizehint``
        (`int`, read-only)."""
        return self._receive_size

    @property
    def allocated(self) -> int:
        """Bytes of memory held for the unread bytes and the next receive
        (`int`, read-only)."""
        return len(self._scratch) + self._data.__alloc__()

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Return a writable buffer for the transport to receive into.

        The buffer is valid until the next call to `get_buffer` or `feed`;
        one still held then is left alone (the bytes it receives are not
        buffered), so a caller may ask for the next buffer first.

        Parameters
        ----------
        sizehint : `int`, optional
            Wanted size. Exactly ``max(sizehint, receive_size)`` bytes are
            offered, so one receive adds at most that much.
        """
        size = max(sizehint, self._receive_size)
        if len(self._scratch) < size:
            self._scratch = bytearray(size)
        self._offered = size
        # A new view each time: the caller may release it.
        with memoryview(self._scratch) as scratch:
            return scratch[:size]

    def buffer_updated(self, nbytes: int) -> None:
        """Commit ``nbytes`` received into the buffer from `get_buffer`.

        A receive that fills its offer doubles `receive_size` (up to the
        maximum); one that gets at most half of it halves it (down to the
        minimum).
        """
        offered = self._offered
        if not 0 <= nbytes <= offered:
            raise ValueError(f"nbytes={nbytes} is outside the offered buffer")
        with memoryview(self._scratch) as scratch:
            self._data += scratch[:nbytes]
        self._caught_up = nbytes < offered
        if not self._caught_up:
            self._receive_size = min(2 * self._receive_size, self._max_receive_size)
        elif 2 * nbytes <= offered:
            self._receive_size = max(self._receive_size // 2, self._min_receive_size)
        self._offered = 0
        self._note_unread()

    def feed(self, data: typing.Any) -> None:
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
        self._note_unread()

    def clear(self) -> None:
        """Discard all buffered bytes."""
        self._consume(len(self._data))

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
        self._consume(n)
        return n

    def take(self, n: int = -1) -> bytes:
        """Consume and return up to ``n`` bytes (all of them if ``n < 0``)."""
        if n < 0 or n > len(self._data):
            n = len(self._data)
        chunk = bytes(self._data[:n])
        self._consume(n)
        return chunk

    def take_exactly(self, n: int) -> bytes | None:
        """Consume and return exactly ``n`` bytes, or None if fewer are buffered.

        Raises
        ------
        ValueError
            If ``n`` is negative.
        """
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        data = self._data
        if len(data) < n:
            return None
        chunk = bytes(data[:n])
        self._consume(n)
        return chunk

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
        return self._locate_separator(separator, sys.maxsize)

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
        index = self._locate_separator(separator, limit)
        if index < 0:
            return None
        assert self._scan_separator is not None  # set by _locate_separator
        n = index + len(self._scan_separator)
        chunk = bytes(self._data[:n])
        self._consume(n)
        return chunk

    def separator_arrived(self, separator: bytes, limit: int) -> bool:
        """Return True if `take_until` with these arguments would not
        return None now: the separator is buffered, or the bytes break the
        limit (then it raises).

        Raises
        ------
        TypeError, ValueError
            For a separator or limit that `take_until` rejects.
        """
        try:
            return self._locate_separator(separator, limit) >= 0
        except asyncio.LimitOverrunError:
            return True

    def take_line(self, separator: bytes, limit: int, encoding: str) -> str | None:
        """Consume a line through ``separator``; return it decoded, without
        the separator.

        Like `take_until` followed by stripping and a strict decode, in one
        step and with no intermediate `bytes`.

        Returns
        -------
        line : `str` | None
            The decoded line, or None if the separator is not buffered yet
            (nothing is consumed).

        Raises
        ------
        asyncio.LimitOverrunError
            As `take_until`; nothing is consumed.
        UnicodeDecodeError
            If the line is not valid ``encoding``; the line is consumed.
        LookupError
            If ``encoding`` is not a known codec; nothing is consumed.
        """
        if encoding is not self._line_encoding:
            if encoding is None:
                raise TypeError("Argument 'encoding' must not be None")
            if not isinstance(encoding, str):
                raise TypeError(
                    f"Argument 'encoding' has incorrect type (expected str, got {type(encoding).__name__})"
                )
            codecs.lookup(encoding)
            self._line_encoding = encoding
        index = self._locate_separator(separator, limit)
        if index < 0:
            return None
        assert self._scan_separator is not None  # set by _locate_separator
        line = self._data[:index]
        self._consume(index + len(self._scan_separator))
        return line.decode(encoding)

    def copy_into(self, target: typing.Any) -> bool:
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
        target_bytes = self._byte_array_over(target)
        if target_bytes is None:  # an empty target is always filled
            return True
        nbytes = len(target_bytes)
        data = self._data
        if len(data) < nbytes:
            return False
        target_bytes.raw = data[:nbytes]  # type: ignore[assignment]  # raw takes any bytes-like object
        self._consume(nbytes)
        return True

    def _byte_array_over(self, target: typing.Any) -> ctypes.Array[ctypes.c_char] | None:
        """Return a ctypes char array over ``target``'s memory (None if it
        is empty), remembering it when ``target`` is a ctypes object.

        Readers fill the same few structs again and again; a remembered
        array saves checking them each time (copy_into of a 32-byte struct
        takes about a third of the time). Only ctypes objects are
        remembered: the array holds a buffer export, which would stop a
        bytearray or numpy array from being resized. The compiled buffer
        has nothing worth remembering: its buffer request and ``memcpy``
        fill a 32-byte struct in about 50 ns.
        """
        remembered = self._target_arrays.get(id(target))
        if remembered is not None:
            remembered_target, target_bytes = remembered
            # ctypes.resize() may have moved the object's memory.
            if remembered_target is target and (
                target_bytes is None or ctypes.addressof(target_bytes) == ctypes.addressof(target)
            ):
                return target_bytes
        with acquire_writable(target) as view:
            nbytes = view.nbytes
        target_bytes = (ctypes.c_char * nbytes).from_buffer(target) if nbytes else None
        if isinstance(target, _CTYPES_OBJECTS):
            if len(self._target_arrays) >= _REMEMBERED_TARGETS:
                self._target_arrays.clear()
            self._target_arrays[id(target)] = (target, target_bytes)
        return target_bytes

    def _locate_separator(self, separator: bytes, limit: int) -> int:
        """Return the index of ``separator`` within ``limit``, or -1 if it
        is not buffered yet; raise as `take_until`."""
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        if self._scan_separator is None or separator is not self._scan_separator:
            separator = check_separator(separator)
            if separator != self._scan_separator:
                self._scan_separator = separator
                self._scan_from = 0
        data = self._data
        index = data.find(self._scan_separator, self._scan_from)
        if index < 0:
            offset = len(data) + 1 - len(self._scan_separator)
            self._scan_from = offset if offset > 0 else 0
            if offset > limit:
                raise asyncio.LimitOverrunError(
                    "Separator is not found, and chunk exceed the limit", offset
                )
            return -1
        self._scan_from = index
        if index > limit:
            raise asyncio.LimitOverrunError(
                "Separator is found, but chunk is longer than limit", index
            )
        return index

    def _consume(self, n: int) -> None:
        """Remove the first ``n`` bytes, keeping the scan offset on the
        same byte, and release memory if the rule says so (as the compiled
        buffer's ``consume``).

        Caller must ensure ``0 <= n <= len(self)``.
        """
        data = self._data
        del data[:n]
        scan_from = self._scan_from
        self._scan_from = scan_from - n if scan_from > n else 0
        if self._release_due and len(data) <= self._min_receive_size:
            self._release()

    def _note_unread(self) -> None:
        """Note a large message, and whether a take may release memory."""
        if len(self._data) > self._max_receive_size:
            self._held_large = True
        self._release_due = self._caught_up or self._held_large

    def _release(self) -> None:
        """Drop the scratch area, and the unread bytes' memory if none
        are unread (the compiled buffer's ``release``)."""
        self._held_large = False
        self._scratch = bytearray()
        # With bytes unread, the take that empties the buffer releases again.
        self._release_due = bool(self._data)
        if not self._data:
            self._data = bytearray()


class SeparatedTakes:
    """The separated takes of one `ReceiveBuffer`, within a fixed limit.

    `take_until` and `take_line` are the buffer's, with ``limit`` given
    here: a reader binds them once, so that taking a line costs one call.

    Parameters
    ----------
    buffer : `ReceiveBuffer`
        The buffer to take from.
    limit : `int`
        The ``limit`` of every take.
    """

    __slots__ = ("_buffer", "_limit")

    def __init__(self, buffer: ReceiveBuffer, limit: int) -> None:
        if not isinstance(buffer, ReceiveBuffer):
            raise TypeError(
                f"Argument 'buffer' has incorrect type (expected ReceiveBuffer, got {type(buffer).__name__})"
            )
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        self._buffer = buffer
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit

    def take_until(self, separator: bytes) -> bytes | None:
        """`ReceiveBuffer.take_until` of ``separator`` within `limit`."""
        return self._buffer.take_until(separator, self._limit)

    def take_line(self, separator: bytes, encoding: str) -> str | None:
        """`ReceiveBuffer.take_line` of ``separator`` within `limit`."""
        return self._buffer.take_line(separator, self._limit, encoding)

"""Byte rules every pure-Python twin shares.

The one definition, in the twins, of the buffer-acquire rule and of hex
digits; their compiled counterparts are the inline functions of
``ext/byte_rules.pxd``. The twins' 8-bit checksums are those of
``checksums_pure``, which ``frames_pure`` calls.
"""

__all__ = [
    "BufferFault",
    "acquire_c_contiguous",
    "acquire_writable",
    "format_hex",
    "is_c_contiguous",
    "is_hex",
]

import enum
import typing

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class BufferFault(enum.Enum):
    """Why `acquire_c_contiguous` refused a buffer."""

    NOT_A_BUFFER = enum.auto()
    READ_ONLY = enum.auto()
    NOT_C_CONTIGUOUS = enum.auto()


def is_c_contiguous(view: memoryview) -> bool:
    """Return whether ``view`` is C-contiguous, as ``PyBuffer_IsContiguous``
    (which the compiled kernels use) decides.

    An empty buffer is contiguous whatever its strides; for e.g.
    ``memoryview(b"")[::2]`` `memoryview.c_contiguous` says otherwise.
    """
    return view.c_contiguous or view.nbytes == 0


def acquire_c_contiguous(source: typing.Any, writable: bool) -> memoryview | BufferFault:
    """Return a memoryview of ``source`` if it is a C-contiguous buffer (and
    writable, if ``writable``); else the fault, for the caller to raise in
    its own words.

    The caller must release the view. Errors other than "not a buffer"
    propagate.
    """
    try:
        view = memoryview(source)
    except TypeError:
        return BufferFault.NOT_A_BUFFER
    if writable and view.readonly:
        view.release()
        return BufferFault.READ_ONLY
    if not view.c_contiguous and not is_c_contiguous(view):  # the full rule only when needed
        view.release()
        return BufferFault.NOT_C_CONTIGUOUS
    return view


def acquire_writable(target: typing.Any) -> memoryview:
    """Return a memoryview of ``target``, a writable C-contiguous buffer to
    copy into.

    Raises
    ------
    TypeError
        If ``target`` does not support the buffer protocol or is read-only.
    ValueError
        If ``target`` is not C-contiguous.
    """
    view = acquire_c_contiguous(target, True)
    if isinstance(view, BufferFault):
        if view is BufferFault.NOT_A_BUFFER:
            raise TypeError(f"{type(target).__name__} does not support the buffer protocol")
        if view is BufferFault.READ_ONLY:
            raise TypeError(f"cannot read into a read-only {type(target).__name__}")
        raise ValueError(f"cannot read into a non-C-contiguous {type(target).__name__}")
    return view


def is_hex(digits: bytes) -> bool:
    """Return whether every byte of ``digits`` is a hex digit (either case)."""
    return _HEX_DIGITS.issuperset(digits)


def format_hex(value: int, ndigits: int, uppercase: bool) -> bytes:
    """Return ``value`` as ``ndigits`` hex digits, zero-padded."""
    return (b"%0*X" if uppercase else b"%0*x") % (ndigits, value)

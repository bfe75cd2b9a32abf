"""Pure-Python twin of the compiled struct copy kernels (``ext/structs.pyx``)."""

__all__ = ["append_structs", "join_structs", "writable_nbytes"]

import typing
from collections.abc import Iterable

from .buffers_pure import is_c_contiguous
from .receive_buffer_pure import writable_view


def writable_nbytes(target: object) -> int:
    """Return the size in bytes of a writable C-contiguous buffer.

    Raises
    ------
    TypeError
        If ``target`` does not support the buffer protocol or is read-only.
    ValueError
        If ``target`` is not C-contiguous.
    """
    with writable_view(target) as view:
        return view.nbytes


def join_structs(structs: Iterable[object]) -> bytes:
    """Return the bytes of all ``structs``, concatenated, in one new object.

    Parameters
    ----------
    structs : iterable of C-contiguous buffers
        For example `ctypes.Structure` instances or numpy arrays.

    Raises
    ------
    TypeError
        If an item does not support the buffer protocol (`str` included).
    ValueError
        If an item is not C-contiguous.
    """
    return b"".join([_readable_view(struct) for struct in structs])


def append_structs(dest: bytearray, structs: Iterable[object]) -> None:
    """Append the bytes of all ``structs`` to ``dest``.

    Raises
    ------
    TypeError
        If ``dest`` is not a `bytearray` or an item is not a buffer.
    ValueError
        If an item is not C-contiguous.
    """
    if not isinstance(dest, bytearray):
        raise TypeError(f"dest must be a bytearray, not {type(dest).__name__}")
    # Hold every item's buffer while dest grows, as the compiled kernel
    # does: a bad item, or an item sharing dest's memory (BufferError),
    # leaves dest unchanged.
    views = [_readable_view(struct) for struct in structs]
    dest += b"".join(views)


def _readable_view(source: typing.Any) -> memoryview:
    if isinstance(source, str):
        raise TypeError("expected a bytes-like object, not str")
    try:
        view = memoryview(source)
    except TypeError:
        raise TypeError(
            f"{type(source).__name__} does not support the buffer protocol"
        ) from None
    if view.c_contiguous:
        return view
    contiguous = is_c_contiguous(view)
    view.release()
    if not contiguous:
        raise ValueError(f"{type(source).__name__} is not C-contiguous")
    # Empty, with strides, which bytes.join refuses. Its buffer is not
    # held: having no bytes, it cannot overlap an append's dest.
    return memoryview(b"")

"""Pure-Python twin of the compiled struct copy kernels (``ext/structs.pyx``)."""

__all__ = ["append_structs", "join_structs", "writable_nbytes", "writable_view"]

import typing
from collections.abc import Iterable

from .byte_rules_pure import BufferFault, acquire_c_contiguous, acquire_writable


def writable_view(target: object) -> memoryview:
    """Return a memoryview of ``target`` after checking it can be filled.

    Raises
    ------
    TypeError
        If ``target`` does not support the buffer protocol or is read-only.
    ValueError
        If ``target`` is not C-contiguous.
    """
    return acquire_writable(target)


def writable_nbytes(target: object) -> int:
    """Return the size in bytes of a writable C-contiguous buffer.

    Raises
    ------
    TypeError
        If ``target`` does not support the buffer protocol or is read-only.
    ValueError
        If ``target`` is not C-contiguous.
    """
    with acquire_writable(target) as view:
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
    view = acquire_c_contiguous(source, False)
    if isinstance(view, BufferFault):
        if view is BufferFault.NOT_A_BUFFER:
            raise TypeError(f"{type(source).__name__} does not support the buffer protocol")
        raise ValueError(f"{type(source).__name__} is not C-contiguous")
    if view.c_contiguous:
        return view
    # Empty, with strides, which bytes.join refuses. Its buffer is not
    # held: having no bytes, it cannot overlap an append's dest.
    view.release()
    return memoryview(b"")

"""Pure-Python twin of the compiled struct copy kernels (``ext/structs.pyx``)."""

__all__ = ["append_structs", "decode_records", "join_structs", "writable_nbytes"]

import typing
from collections.abc import Iterable

import numpy as np

from .receive_buffer import writable_view

if typing.TYPE_CHECKING:
    from numpy.typing import DTypeLike


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


def decode_records(data: object, dtype: "DTypeLike", count: int = -1) -> np.ndarray:
    """Decode fixed-size records from ``data`` into a new numpy array.

    Parameters
    ----------
    data : C-contiguous buffer
        Packed records.
    dtype : `numpy.dtype` or anything `numpy.dtype` accepts
        Record layout, typically a structured dtype.
    count : `int`, optional
        Number of records; -1 means as many as ``data`` holds.

    Raises
    ------
    ValueError
        If ``data`` holds fewer than ``count`` records, or (for
        ``count=-1``) is not a whole number of records.
    """
    dtype = np.dtype(dtype)
    if dtype.itemsize == 0:
        raise ValueError("dtype must have a nonzero itemsize")
    if dtype.hasobject:
        raise TypeError("dtype must not hold Python objects")
    with _readable_view(data) as view:
        nbytes = view.nbytes
        if count < 0:
            if nbytes % dtype.itemsize:
                raise ValueError(
                    f"{nbytes} bytes is not a whole number of {dtype.itemsize}-byte records"
                )
            count = nbytes // dtype.itemsize
        if count * dtype.itemsize > nbytes:
            raise ValueError(
                f"{nbytes} bytes holds fewer than {count} {dtype.itemsize}-byte records"
            )
        records = np.empty(count, dtype=dtype)
        records.view(np.uint8)[:] = np.frombuffer(
            view, dtype=np.uint8, count=count * dtype.itemsize
        )
    return records


def _readable_view(source: typing.Any) -> memoryview:
    if isinstance(source, str):
        raise TypeError("expected a bytes-like object, not str")
    try:
        view = memoryview(source)
    except TypeError:
        raise TypeError(
            f"{type(source).__name__} does not support the buffer protocol"
        ) from None
    if not view.c_contiguous:
        view.release()
        raise ValueError(f"{type(source).__name__} is not C-contiguous")
    return view

"""Arrays of fixed-size records (numpy structured arrays, ctypes arrays).

Helpers for the batch struct reads of `FrameReader` and the clients and
servers: a view of the first records of an array to read into, and a new
array to read records into.
"""

from __future__ import annotations

__all__ = ["new_records", "records_view"]

import ctypes
import typing

from .._kernels import structs

if typing.TYPE_CHECKING:
    import numpy as np


def records_view(records: typing.Any, count: int | None = None) -> memoryview:
    """Return a byte view of the first ``count`` records of ``records``.

    Parameters
    ----------
    records : writable C-contiguous array
        For example a numpy structured array or a ctypes array of
        `ctypes.Structure`; its first dimension counts the records.
    count : `int` or None, optional
        How many records; None for all of them.

    Returns
    -------
    view : `memoryview`
        A flat byte view of the records' memory (release it when done).

    Raises
    ------
    TypeError
        If ``records`` is not a writable buffer, or is a single struct
        rather than an array.
    ValueError
        If ``records`` is not C-contiguous or ``count`` is out of range.
    """
    with structs.writable_view(records) as view:
        if view.ndim == 0:
            raise TypeError(f"records must be an array of records, not a single {type(records).__name__}")
        length = len(view)  # the first dimension
        if count is None:
            count = length
        elif not 0 <= count <= length:
            raise ValueError(f"count={count} must be in 0..{length}, the length of records")
        record_size = view.nbytes // length if length else 0
        return view.cast("B")[: count * record_size]


def new_records(record_type: typing.Any, count: int) -> np.ndarray | ctypes.Array[typing.Any]:
    """Return a new array to read ``count`` records into.

    Parameters
    ----------
    record_type : `ctypes.Structure` or `ctypes.Union` subclass, or numpy dtype
        The record layout: a ctypes type gives a ctypes array, anything
        else is passed to `numpy.dtype` and gives a numpy array.
    count : `int`
        Number of records.

    Raises
    ------
    TypeError
        If the dtype holds Python objects.
    ValueError
        If ``count`` is negative or the dtype has no size.
    """
    if count < 0:
        raise ValueError(f"count={count} must not be negative")
    if isinstance(record_type, type) and issubclass(record_type, (ctypes.Structure, ctypes.Union)):
        return (record_type * count)()
    # numpy is imported here, where a numpy array is first made, so that
    # `import tcpframe` does not load it.
    import numpy as np

    dtype = np.dtype(record_type)
    if dtype.hasobject:
        raise TypeError(f"dtype {dtype} holds Python objects, which cannot be read from bytes")
    if dtype.itemsize == 0:
        raise ValueError(f"dtype {dtype} has no size")
    return np.empty(count, dtype)

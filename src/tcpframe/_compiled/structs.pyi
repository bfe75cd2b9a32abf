"""Compiled struct copy kernels; same API as ``tcpframe._pure.structs``."""

from collections.abc import Iterable

import numpy as np
from numpy.typing import DTypeLike
from typing_extensions import Buffer

__all__ = ["append_structs", "decode_records", "join_structs", "writable_nbytes"]

def writable_nbytes(target: Buffer) -> int:
    """Return the size in bytes of a writable C-contiguous buffer."""

def join_structs(structs: Iterable[Buffer]) -> bytes:
    """Return the bytes of all ``structs``, concatenated, in one new object."""

def append_structs(dest: bytearray, structs: Iterable[Buffer]) -> None:
    """Append the bytes of all ``structs`` to ``dest``."""

def decode_records(data: Buffer, dtype: DTypeLike, count: int = -1) -> np.ndarray:
    """Decode fixed-size records from ``data`` into a new numpy array."""

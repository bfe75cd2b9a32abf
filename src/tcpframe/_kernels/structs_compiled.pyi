"""Compiled struct copy kernels; same API as ``tcpframe._kernels.structs_pure``."""

from collections.abc import Iterable

from typing_extensions import Buffer

__all__ = ["append_structs", "join_structs", "writable_nbytes", "writable_view"]

def writable_view(target: object) -> memoryview:
    """Return a memoryview of ``target`` after checking it can be filled."""

def writable_nbytes(target: Buffer) -> int:
    """Return the size in bytes of a writable C-contiguous buffer."""

def join_structs(structs: Iterable[Buffer]) -> bytes:
    """Return the bytes of all ``structs``, concatenated, in one new object."""

def append_structs(dest: bytearray, structs: Iterable[Buffer]) -> None:
    """Append the bytes of all ``structs`` to ``dest``."""

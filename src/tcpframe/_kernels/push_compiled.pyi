"""Compiled push kernels; same API as ``tcpframe._kernels.push_pure``."""

import typing
from typing import final

from typing_extensions import disjoint_base

from .receive_buffer_compiled import ReceiveBuffer

__all__ = ["ChecksummedPusher", "FramePusher", "LinePusher", "Pusher", "RecordPusher", "StructPusher"]

_Callback = typing.Callable[[typing.Any], typing.Any]

@disjoint_base
class Pusher:
    """Base of the pushers: the buffer, the callback and the walk's state."""

    active: bool
    @property
    def delivered(self) -> int:
        """Messages delivered so far (`int`, read-only)."""
    def __init__(self, buffer: ReceiveBuffer, callback: _Callback) -> None: ...
    def run(self) -> typing.Any:
        """Deliver every complete buffered message while `active`."""

@final
class StructPusher(Pusher):
    """Push fixed-size structs, each copied into ``target``."""

    @property
    def size(self) -> int:
        """Size of a struct in bytes (`int`, read-only)."""
    def __init__(self, buffer: ReceiveBuffer, target: typing.Any, item: typing.Any, callback: _Callback) -> None: ...

@final
class LinePusher(Pusher):
    """Push lines without their separator, as `str` or `bytes`."""

    def __init__(
        self, buffer: ReceiveBuffer, separator: bytes, limit: int, encoding: str | None, callback: _Callback
    ) -> None: ...

@final
class FramePusher(Pusher):
    """Push the payloads of length-prefixed frames."""

    def __init__(self, buffer: ReceiveBuffer, prefix: typing.Any, callback: _Callback) -> None: ...

@final
class ChecksummedPusher(Pusher):
    """Push the verified bodies of checksummed frames."""

    def __init__(self, buffer: ReceiveBuffer, framing: typing.Any, limit: int, callback: _Callback) -> None: ...

@final
class RecordPusher(Pusher):
    """Push all complete fixed-size records of each walk at once."""

    @property
    def size(self) -> int:
        """Size of a record in bytes (`int`, read-only)."""
    def __init__(
        self,
        buffer: ReceiveBuffer,
        record_size: int,
        wrap: typing.Callable[[typing.Any, int], typing.Any],
        callback: _Callback,
    ) -> None: ...

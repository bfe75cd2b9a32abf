"""The struct kernels' spec (``join_structs``, ``append_structs``,
``writable_nbytes``, ``writable_view``)."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpframe._kernels import Kernels

from .streams import spec_settings


class Reading(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


def struct_items(pieces: list[bytes]) -> list[object]:
    """The pieces as the kinds of buffer a struct kernel takes, in turn."""
    kinds = [
        bytes,
        bytearray,
        memoryview,
        lambda piece: np.frombuffer(piece, dtype=np.uint8).copy(),
        lambda piece: (ctypes.c_char * len(piece)).from_buffer_copy(piece),
    ]
    return [kinds[i % len(kinds)](piece) for i, piece in enumerate(pieces)]


class StructSpec:
    """What the struct kernels do, on every implementation."""

    kernels: Kernels

    @spec_settings()
    @given(pieces=st.lists(st.binary(max_size=40), max_size=8))
    def test_join_structs_concatenates_any_buffers(self, pieces: list[bytes]) -> None:
        joined = self.kernels.structs.join_structs(struct_items(pieces))
        assert type(joined) is bytes
        assert joined == b"".join(pieces)

    @spec_settings()
    @given(head=st.binary(max_size=20), pieces=st.lists(st.binary(max_size=40), max_size=8))
    def test_append_structs_appends_any_buffers(self, head: bytes, pieces: list[bytes]) -> None:
        dest = bytearray(head)
        self.kernels.structs.append_structs(dest, struct_items(pieces))
        assert dest == head + b"".join(pieces)

    @spec_settings()
    @given(
        pieces=st.lists(st.binary(max_size=20), max_size=5),
        bad=st.sampled_from(["text", 7, None, memoryview(bytes(8))[::2]]),
        position=st.integers(0, 5),
    )
    def test_a_bad_struct_leaves_dest_unchanged(self, pieces: list[bytes], bad: object, position: int) -> None:
        items = struct_items(pieces)
        items.insert(position, bad)
        dest = bytearray(b"head")
        with pytest.raises((TypeError, ValueError)):
            self.kernels.structs.append_structs(dest, items)
        assert dest == b"head"
        with pytest.raises((TypeError, ValueError)):
            self.kernels.structs.join_structs(items)

    def test_an_empty_buffer_with_strides_is_empty_not_an_error(self) -> None:
        """``memoryview(b"")[::2]`` has strides but no bytes: C-contiguous,
        as ``PyBuffer_IsContiguous`` says (the twins' memoryview checks
        said otherwise, and raised ValueError)."""
        structs = self.kernels.structs
        empty = memoryview(b"")[::2]
        assert structs.join_structs([b"a", empty, b"b"]) == b"ab"
        dest = bytearray(b"x")
        structs.append_structs(dest, [empty, b"y"])
        assert dest == b"xy"
        writable = memoryview(bytearray())[::2]
        assert structs.writable_nbytes(writable) == 0
        assert structs.writable_view(writable).nbytes == 0
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        buffer.feed(b"abc")
        assert buffer.copy_into(writable) is True
        assert buffer.take() == b"abc"

    @spec_settings()
    @given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3), dtype=st.sampled_from(["u1", "<f8", ">i4"]))
    def test_writable_nbytes_is_the_size_of_a_writable_buffer(self, shape: list[int], dtype: str) -> None:
        array = np.zeros(shape, dtype=dtype)
        assert self.kernels.structs.writable_nbytes(array) == array.nbytes
        assert self.kernels.structs.writable_nbytes(Reading()) == ctypes.sizeof(Reading)

    def test_writable_view_checks_the_target(self) -> None:
        structs = self.kernels.structs
        target = bytearray(3)
        with structs.writable_view(target) as view:
            view[0] = 1
        assert target == b"\x01\x00\x00"
        with pytest.raises(TypeError, match="cannot read into a read-only bytes"):
            structs.writable_view(b"abc")
        with pytest.raises(ValueError, match="non-C-contiguous"):
            structs.writable_view(np.zeros(4)[::2])

"""Tests for the struct copy kernels, through whichever implementation is active.

``tcpframe._kernels.structs`` is the compiled module, or its pure-Python
twin under ``TCPFRAME_PURE_PYTHON=1``; the suite runs both ways.
"""

import ctypes

import numpy as np
import pytest

from tcpframe._kernels import structs


class Header(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("sync", ctypes.c_uint8),
        ("frame_id", ctypes.c_uint16),
        ("sequence", ctypes.c_uint32),
        ("timestamp", ctypes.c_double),
        ("length", ctypes.c_uint8),
    ]


class Telemetry(ctypes.Structure):
    _fields_ = [("values", ctypes.c_double * 30)]


def sample_pair() -> tuple[Header, Telemetry]:
    header = Header(0xA5, 0x1234, 99, 12.5, 240)
    telemetry = Telemetry()
    telemetry.values[:] = [i / 4 for i in range(30)]
    return header, telemetry


# writable_nbytes


@pytest.mark.parametrize(
    ("target", "nbytes"),
    [
        (Header(), 16),
        (bytearray(7), 7),
        (np.zeros((3, 4), dtype="<f4"), 48),
        (memoryview(bytearray(5)), 5),
        (bytearray(), 0),
    ],
)
def test_writable_nbytes_is_the_size_in_bytes(target: object, nbytes: int) -> None:
    assert structs.writable_nbytes(target) == nbytes


def test_writable_nbytes_rejects_read_only_target() -> None:
    with pytest.raises(TypeError, match="cannot read into a read-only bytes"):
        structs.writable_nbytes(b"abc")


def test_writable_nbytes_rejects_non_contiguous_target() -> None:
    with pytest.raises(ValueError, match="cannot read into a non-C-contiguous ndarray"):
        structs.writable_nbytes(np.zeros((4, 4))[:, 1])


def test_writable_nbytes_rejects_non_buffer() -> None:
    with pytest.raises(TypeError, match="float does not support the buffer protocol"):
        structs.writable_nbytes(1.5)


# join_structs


def test_join_structs_concatenates_a_ctypes_pair() -> None:
    header, telemetry = sample_pair()
    joined = structs.join_structs([header, telemetry])
    assert type(joined) is bytes
    assert len(joined) == 16 + 240
    assert joined == bytes(header) + bytes(telemetry)


def test_join_structs_accepts_any_iterable_of_buffers() -> None:
    items = (b"ab", bytearray(b"cd"), memoryview(b"ef"), np.array([0x6867], dtype="<u2"))
    assert structs.join_structs(iter(items)) == b"abcdefgh"
    assert structs.join_structs(items) == b"abcdefgh"


def test_join_structs_of_nothing_is_empty() -> None:
    assert structs.join_structs([]) == b""
    assert structs.join_structs([b"", bytearray()]) == b""


def test_join_structs_rejects_str() -> None:
    with pytest.raises(TypeError, match="expected a bytes-like object, not str"):
        structs.join_structs([b"ab", "cd"])


def test_join_structs_rejects_non_buffer() -> None:
    with pytest.raises(TypeError, match="int does not support the buffer protocol"):
        structs.join_structs([b"ab", 3])


def test_join_structs_rejects_non_contiguous_item() -> None:
    with pytest.raises(ValueError, match="ndarray is not C-contiguous"):
        structs.join_structs([b"ab", np.arange(8, dtype=np.uint8)[::2]])


def test_join_structs_rejects_non_iterable() -> None:
    with pytest.raises(TypeError, match="not iterable"):
        structs.join_structs(5)


# append_structs


def test_append_structs_appends_to_a_bytearray() -> None:
    header, telemetry = sample_pair()
    dest = bytearray(b"prefix")
    structs.append_structs(dest, [header, telemetry])
    structs.append_structs(dest, (np.array([1, 2], dtype=np.uint8),))
    assert dest == b"prefix" + bytes(header) + bytes(telemetry) + b"\x01\x02"


def test_append_structs_of_nothing_changes_nothing() -> None:
    dest = bytearray(b"abc")
    structs.append_structs(dest, [])
    structs.append_structs(dest, [b""])
    assert dest == b"abc"


@pytest.mark.parametrize("dest", [b"abc", memoryview(bytearray(3)), None])
def test_append_structs_needs_a_bytearray(dest: object) -> None:
    with pytest.raises(TypeError, match="dest must be a bytearray, not"):
        structs.append_structs(dest, [b"x"])


@pytest.mark.parametrize(
    ("bad_item", "error"),
    [("text", TypeError), (7, TypeError), (np.zeros(4)[::2], ValueError)],
)
def test_append_structs_leaves_dest_unchanged_on_a_bad_item(
    bad_item: object, error: type[Exception]
) -> None:
    dest = bytearray(b"abc")
    with pytest.raises(error):
        structs.append_structs(dest, [b"good", bad_item, b"more"])
    assert dest == b"abc"


def test_append_structs_refuses_an_item_sharing_dest_memory() -> None:
    dest = bytearray(b"abc")
    for item in (dest, memoryview(dest)[1:]):
        with pytest.raises(BufferError):
            structs.append_structs(dest, [b"x", item])
        assert dest == b"abc"

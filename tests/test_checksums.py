"""Tests for ``tcpframe.checksums``, through whichever kernels are active.

The results of each implementation against the checksums' definitions, and
the parity of compiled kernels and twins, are in the kernel spec
(``kernel_spec/``, run by ``test_kernels_twin.py`` and
``test_kernels_compiled.py``).
"""

import array
import ctypes

import numpy as np
import pytest

import tcpframe
from kernel_spec import CHECKSUMS as KERNELS
from kernel_spec import CRC16S, CRCS, REFERENCES
from tcpframe import _kernels, checksums

TEXT_KERNELS = ["sum8", "xor8"]


class Reading(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


# The public module


def test_public_module_uses_the_active_implementation() -> None:
    # As msgpack's tests do, ask the functions where they come from.
    expected = "tcpframe._kernels.checksums_compiled" if tcpframe.ACCELERATED else "tcpframe._kernels.checksums_pure"
    assert _kernels.checksums.__name__ == expected
    for name in checksums.__all__:
        assert getattr(checksums, name) is getattr(_kernels.checksums, name)
        assert getattr(checksums, name).__module__ == expected


def test_public_module_exports_the_kernels_names() -> None:
    assert checksums.__all__ == _kernels.checksums.__all__
    assert sorted(checksums.__all__) == sorted([*KERNELS, "format_hex2", "verify_hex2"])


# Accepted inputs


def buffers() -> dict[str, object]:
    return {
        "bytes": b"\x01\x02\xfe\xff" * 5,
        "bytearray": bytearray(b"tcpframe"),
        "memoryview": memoryview(b"abc\x00def"),
        "memoryview slice": memoryview(b"0123456789")[3:9],
        "numpy uint8": np.arange(250, dtype=np.uint8),
        "numpy uint32": np.arange(10, dtype=np.uint32),
        "numpy 2-D": np.arange(12, dtype=np.int16).reshape(3, 4),
        "numpy empty 2-D": np.zeros((3, 0), dtype=np.uint32),
        "ctypes structure": Reading(7, 1.5),
        "ctypes array": (ctypes.c_uint16 * 3)(1, 2, 0xABCD),
        "array.array": array.array("d", [0.5, -2.0]),
    }


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("kind", list(buffers()))
def test_any_c_contiguous_buffer_is_accepted(name: str, kind: str) -> None:
    data = buffers()[kind]
    expected = REFERENCES[name](memoryview(data).tobytes())
    assert getattr(checksums, name)(data) == expected


@pytest.mark.parametrize("name", TEXT_KERNELS)
def test_ascii_str_is_checksummed_as_its_bytes(name: str) -> None:
    sentence = "GPGLL,5300.97914,N,00259.98174,E,125926,A"
    assert getattr(checksums, name)(sentence) == REFERENCES[name](sentence.encode())


def test_xor8_gives_the_nmea_checksum() -> None:
    sentence = "GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,"
    assert checksums.format_hex2(checksums.xor8(sentence), uppercase=True) == "76"


# Rejected inputs


@pytest.mark.parametrize("name", TEXT_KERNELS)
def test_non_ascii_str_raises_unicode_encode_error(name: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        getattr(checksums, name)("température")


@pytest.mark.parametrize("name", CRCS)
def test_str_to_a_crc_raises_type_error(name: str) -> None:
    with pytest.raises(TypeError, match=rf"^{name}\(\) argument must be a bytes-like"):
        getattr(checksums, name)("123456789")


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("data", [None, 42, 4.2, [1, 2, 3]], ids=repr)
def test_non_buffer_raises_type_error(name: str, data: object) -> None:
    with pytest.raises(TypeError, match=type(data).__name__):
        getattr(checksums, name)(data)


def non_contiguous_buffers() -> dict[str, object]:
    return {
        "numpy slice": np.arange(20, dtype=np.uint8)[::2],
        "numpy Fortran order": np.asfortranarray(np.ones((3, 4), dtype=np.uint8)),
        "memoryview slice": memoryview(bytes(20))[::3],
    }


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("kind", list(non_contiguous_buffers()))
def test_non_contiguous_buffer_raises_value_error(name: str, kind: str) -> None:
    with pytest.raises(ValueError, match="C-contiguous"):
        getattr(checksums, name)(non_contiguous_buffers()[kind])


@pytest.mark.parametrize("name", CRC16S)
@pytest.mark.parametrize("value", [-1, 0x10000])
def test_crc16_value_out_of_range_raises_value_error(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.0xFFFF"):
        getattr(checksums, name)(b"", value)


@pytest.mark.parametrize("name", CRCS)
def test_non_integer_value_raises_type_error(name: str) -> None:
    with pytest.raises(TypeError):
        getattr(checksums, name)(b"", 1.0)


# Two-hex-digit helpers


@pytest.mark.parametrize(
    ("checksum", "uppercase", "digits"),
    [
        (0, False, "00"),
        (5, False, "05"),
        (10, False, "0a"),
        (10, True, "0A"),
        (255, False, "ff"),
        (255, True, "FF"),
    ],
)
def test_format_hex2_writes_two_digits(checksum, uppercase, digits) -> None:
    assert checksums.format_hex2(checksum, uppercase=uppercase) == digits


def test_format_hex2_accepts_numpy_integers() -> None:
    assert checksums.format_hex2(np.uint8(171)) == "ab"


@pytest.mark.parametrize("checksum", [-1, 256, 0x1FF])
def test_format_hex2_out_of_range_raises_value_error(checksum: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        checksums.format_hex2(checksum)


@pytest.mark.parametrize("checksum", [1.0, "5", None])
def test_format_hex2_non_integer_raises_type_error(checksum: object) -> None:
    with pytest.raises(TypeError):
        checksums.format_hex2(checksum)


@pytest.mark.parametrize("uppercase", [False, True])
def test_verify_hex2_accepts_what_format_hex2_writes(uppercase: bool) -> None:
    for checksum in range(256):
        digits = checksums.format_hex2(checksum, uppercase=uppercase)
        assert checksums.verify_hex2(checksum, digits)
        assert checksums.verify_hex2(checksum, digits.encode())
        assert not checksums.verify_hex2((checksum + 1) % 256, digits)


@pytest.mark.parametrize(
    "received", ["0a", "0A", b"0a", b"0A", bytearray(b"0a"), memoryview(b"x0A")[1:]]
)
def test_verify_hex2_accepts_either_case_as_str_or_bytes(received) -> None:
    assert checksums.verify_hex2(10, received)
    assert not checksums.verify_hex2(11, received)


MALFORMED_REPLIES = [
    "",
    "a",
    "00a",
    "0x",
    " a",
    "a ",
    "+a",
    "-1",
    "g0",
    "0_",
    b"\x00a",
    "\u0660\u0661",  # Arabic-Indic digits 01, which int() accepts
]


@pytest.mark.parametrize("received", MALFORMED_REPLIES, ids=repr)
def test_verify_hex2_malformed_reply_raises_value_error(received) -> None:
    with pytest.raises(ValueError, match=r"two hex digits|ascii"):
        checksums.verify_hex2(10, received)


def test_verify_hex2_checksum_out_of_range_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        checksums.verify_hex2(256, "00")


@pytest.mark.parametrize("received", [10, None])
def test_verify_hex2_non_text_reply_raises_type_error(received: object) -> None:
    with pytest.raises(TypeError):
        checksums.verify_hex2(10, received)

"""Tests for ``tcpframe.checksums``, its compiled kernels and their twins.

Tests that import ``tcpframe._compiled.checksums`` and
``tcpframe._pure.checksums`` directly check both implementations in every
run; tests that use ``tcpframe.checksums`` check whichever is active.
"""

import array
import ctypes
import functools
import inspect
import operator
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tcpframe
from tcpframe import checksums
from tcpframe._compiled import checksums as compiled
from tcpframe._pure import checksums as pure

IMPLEMENTATIONS = [
    pytest.param(compiled, id="compiled"),
    pytest.param(pure, id="pure"),
]

CHECK_INPUT = b"123456789"
CHECK_VALUES = {
    "sum8": 0xDD,
    "xor8": 0x31,
    "crc16_modbus": 0x4B37,
    "crc16_ccitt": 0x29B1,
    "crc16_xmodem": 0x31C3,
    "crc32": 0xCBF43926,
}
KERNELS = list(CHECK_VALUES)
CRCS = [name for name in KERNELS if name.startswith("crc")]
CRC16S = [name for name in CRCS if name.startswith("crc16")]
TEXT_KERNELS = ["sum8", "xor8"]


def reference_crc(
    data: bytes, width: int, polynomial: int, init: int, reflected: bool, xorout: int
) -> int:
    """Compute a CRC one bit at a time, straight from its definition."""
    top = 1 << (width - 1)
    mask = (1 << width) - 1
    if reflected:
        polynomial = int(f"{polynomial:0{width}b}"[::-1], 2)
    crc = init
    for byte in data:
        if reflected:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (polynomial if crc & 1 else 0)
        else:
            crc ^= byte << (width - 8)
            for _ in range(8):
                crc = ((crc << 1) ^ (polynomial if crc & top else 0)) & mask
    return crc ^ xorout


REFERENCES = {
    "sum8": lambda data: sum(data) % 256,
    "xor8": lambda data: functools.reduce(operator.xor, data, 0),
    "crc16_modbus": lambda data: reference_crc(data, 16, 0x8005, 0xFFFF, True, 0),
    "crc16_ccitt": lambda data: reference_crc(data, 16, 0x1021, 0xFFFF, False, 0),
    "crc16_xmodem": lambda data: reference_crc(data, 16, 0x1021, 0, False, 0),
    "crc32": lambda data: reference_crc(
        data, 32, 0x04C11DB7, 0xFFFFFFFF, True, 0xFFFFFFFF
    ),
}


class Reading(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


# Twin discipline


def test_public_module_uses_the_active_implementation() -> None:
    active = compiled if tcpframe.ACCELERATED else pure
    for name in checksums.__all__:
        assert getattr(checksums, name) is getattr(active, name)


def test_twins_export_the_same_names() -> None:
    assert checksums.__all__ == compiled.__all__ == pure.__all__
    assert sorted(pure.__all__) == sorted([*KERNELS, "format_hex2", "verify_hex2"])


@pytest.mark.parametrize("name", pure.__all__)
def test_twins_have_the_same_signature(name: str) -> None:
    def parameters(function):
        return [
            (parameter.name, parameter.kind, parameter.default)
            for parameter in inspect.signature(function).parameters.values()
        ]

    assert parameters(getattr(compiled, name)) == parameters(getattr(pure, name))


@pytest.mark.parametrize("name", pure.__all__)
def test_twins_have_the_same_docstring(name: str) -> None:
    # The compiled docstring starts with the signature Cython embeds.
    signature, docstring = getattr(compiled, name).__doc__.split("\n\n", 1)
    assert signature.startswith(f"{name}(")
    assert inspect.cleandoc(docstring) == inspect.cleandoc(getattr(pure, name).__doc__)


# Check values and agreement


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", KERNELS)
def test_check_value(implementation, name: str) -> None:
    result = getattr(implementation, name)(CHECK_INPUT)
    assert type(result) is int
    assert result == CHECK_VALUES[name] == REFERENCES[name](CHECK_INPUT)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", KERNELS)
def test_empty_input_gives_the_initial_value(implementation, name: str) -> None:
    assert getattr(implementation, name)(b"") == REFERENCES[name](b"")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_sum8_discards_carries(implementation) -> None:
    assert implementation.sum8(b"\xff\x01") == 0
    assert implementation.sum8(b"\xff" * 1000) == (255 * 1000) % 256


@pytest.mark.parametrize("name", KERNELS)
@given(data=st.binary(max_size=300))
def test_implementations_agree_with_reference(name: str, data: bytes) -> None:
    expected = REFERENCES[name](data)
    assert getattr(compiled, name)(data) == expected
    assert getattr(pure, name)(data) == expected


@pytest.mark.parametrize("name", KERNELS)
@given(data=st.binary(min_size=8, max_size=100), offset=st.integers(1, 7))
def test_unaligned_views_agree(name: str, data: bytes, offset: int) -> None:
    view = memoryview(data)[offset:]
    expected = REFERENCES[name](data[offset:])
    assert getattr(compiled, name)(view) == expected
    assert getattr(pure, name)(view) == expected


@pytest.mark.parametrize("name", KERNELS)
def test_large_input_agrees(name: str) -> None:
    # Past 64 KiB the compiled kernels run without the GIL.
    data = np.random.default_rng(seed=2).integers(0, 256, 300_001, np.uint8)
    assert getattr(compiled, name)(data) == getattr(pure, name)(data)


@pytest.mark.parametrize("name", CRCS)
@given(first=st.binary(max_size=100), second=st.binary(max_size=100))
def test_running_crc_equals_crc_of_the_whole(
    name: str, first: bytes, second: bytes
) -> None:
    for implementation in (compiled, pure):
        crc = getattr(implementation, name)
        assert crc(second, crc(first)) == crc(first + second)


@pytest.mark.parametrize("name", CRC16S)
@given(data=st.binary(max_size=100), value=st.integers(0, 0xFFFF))
def test_crc16_from_any_value_agrees(name: str, data: bytes, value: int) -> None:
    assert getattr(compiled, name)(data, value) == getattr(pure, name)(data, value)


@given(data=st.binary(max_size=100), value=st.integers(-(2**40), 2**40))
def test_crc32_value_is_taken_modulo_2_to_the_32_like_zlib(
    data: bytes, value: int
) -> None:
    assert compiled.crc32(data, value) == pure.crc32(data, value)
    assert compiled.crc32(data, value) == zlib.crc32(data, value)


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


BAD_CALLS = [
    ("sum8", ("é",)),
    ("sum8", (None,)),
    ("xor8", (np.arange(4, dtype=np.uint8)[::2],)),
    ("crc16_modbus", ("text",)),
    ("crc16_ccitt", (b"", 0x10000)),
    ("crc16_xmodem", (b"", "0")),
    ("crc32", (3,)),
    ("crc32", (b"", None)),
    ("format_hex2", (256,)),
    ("format_hex2", ("5",)),
    ("verify_hex2", (5, "5")),
    ("verify_hex2", (5, None)),
    ("verify_hex2", (-1, "05")),
]


@pytest.mark.parametrize(("name", "args"), BAD_CALLS, ids=repr)
def test_twins_raise_the_same_error(name: str, args: tuple) -> None:
    with pytest.raises(Exception) as from_compiled:
        getattr(compiled, name)(*args)
    with pytest.raises(Exception) as from_pure:
        getattr(pure, name)(*args)
    assert from_compiled.type is from_pure.type
    assert str(from_compiled.value) == str(from_pure.value)


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

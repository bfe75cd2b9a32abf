"""The checksum kernels' spec, with their references: the standard check
values and bit-at-a-time definitions."""

from __future__ import annotations

import functools
import operator
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpframe._kernels import Kernels

from .streams import spec_settings

CHECK_INPUT = b"123456789"
CHECK_VALUES = {
    "sum8": 0xDD,
    "xor8": 0x31,
    "crc16_modbus": 0x4B37,
    "crc16_ccitt": 0x29B1,
    "crc16_xmodem": 0x31C3,
    "crc32": 0xCBF43926,
}
CHECKSUMS = list(CHECK_VALUES)
CRCS = [name for name in CHECKSUMS if name.startswith("crc")]
CRC16S = [name for name in CRCS if name.startswith("crc16")]


def reference_crc(data: bytes, width: int, polynomial: int, init: int, reflected: bool, xorout: int) -> int:
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


# The CRC-16s by name: polynomial, reflected; each starts from a value.
CRC16_PARAMETERS = {"crc16_modbus": (0x8005, True), "crc16_ccitt": (0x1021, False), "crc16_xmodem": (0x1021, False)}

REFERENCES = {
    "sum8": lambda data: sum(data) % 256,
    "xor8": lambda data: functools.reduce(operator.xor, data, 0),
    "crc16_modbus": lambda data: reference_crc(data, 16, 0x8005, 0xFFFF, True, 0),
    "crc16_ccitt": lambda data: reference_crc(data, 16, 0x1021, 0xFFFF, False, 0),
    "crc16_xmodem": lambda data: reference_crc(data, 16, 0x1021, 0, False, 0),
    "crc32": lambda data: reference_crc(data, 32, 0x04C11DB7, 0xFFFFFFFF, True, 0xFFFFFFFF),
}


class ChecksumSpec:
    """What the checksum kernels compute, on every implementation."""

    kernels: Kernels

    @pytest.mark.parametrize("name", CHECKSUMS)
    def test_checksum_check_value(self, name: str) -> None:
        result = getattr(self.kernels.checksums, name)(CHECK_INPUT)
        assert type(result) is int
        assert result == CHECK_VALUES[name] == REFERENCES[name](CHECK_INPUT)

    @pytest.mark.parametrize("name", CHECKSUMS)
    def test_checksum_of_nothing_is_the_initial_value(self, name: str) -> None:
        assert getattr(self.kernels.checksums, name)(b"") == REFERENCES[name](b"")

    def test_checksums_of_an_empty_strided_view_are_the_start_value(self) -> None:
        """Found by the checksum fuzz target: ``memoryview(b"")[::2]`` has
        strides, but no bytes; it is empty, not an error (the twin raised
        ValueError, the compiled crc32 BufferError)."""
        checksums = self.kernels.checksums
        empty = memoryview(b"")[::2]
        assert checksums.sum8(empty) == 0
        assert checksums.xor8(empty) == 0
        assert checksums.crc16_modbus(empty) == 0xFFFF
        assert checksums.crc16_ccitt(empty, 0x1234) == 0x1234
        assert checksums.crc16_xmodem(empty) == 0
        assert checksums.crc32(empty, 0xDEADBEEF) == 0xDEADBEEF

    def test_sum8_discards_carries(self) -> None:
        assert self.kernels.checksums.sum8(b"\xff\x01") == 0
        assert self.kernels.checksums.sum8(b"\xff" * 1000) == (255 * 1000) % 256

    @pytest.mark.parametrize("name", CHECKSUMS)
    @spec_settings()
    @given(data=st.binary(max_size=300))
    def test_checksum_agrees_with_its_definition(self, name: str, data: bytes) -> None:
        assert getattr(self.kernels.checksums, name)(data) == REFERENCES[name](data)

    @pytest.mark.parametrize("name", CHECKSUMS)
    @spec_settings()
    @given(data=st.binary(min_size=8, max_size=100), offset=st.integers(1, 7))
    def test_checksum_of_an_unaligned_view(self, name: str, data: bytes, offset: int) -> None:
        view = memoryview(data)[offset:]
        assert getattr(self.kernels.checksums, name)(view) == REFERENCES[name](data[offset:])

    @pytest.mark.parametrize("name", CRCS)
    @spec_settings()
    @given(first=st.binary(max_size=100), second=st.binary(max_size=100))
    def test_running_crc_equals_crc_of_the_whole(self, name: str, first: bytes, second: bytes) -> None:
        crc = getattr(self.kernels.checksums, name)
        assert crc(second, crc(first)) == crc(first + second)

    @pytest.mark.parametrize("name", CRC16S)
    @spec_settings()
    @given(data=st.binary(max_size=100), value=st.integers(0, 0xFFFF))
    def test_crc16_from_any_value_agrees_with_its_definition(self, name: str, data: bytes, value: int) -> None:
        polynomial, reflected = CRC16_PARAMETERS[name]
        expected = reference_crc(data, 16, polynomial, value, reflected, 0)
        assert getattr(self.kernels.checksums, name)(data, value) == expected

    @spec_settings()
    @given(data=st.binary(max_size=100), value=st.integers(-(2**40), 2**40))
    def test_crc32_value_is_taken_modulo_2_to_the_32_like_zlib(self, data: bytes, value: int) -> None:
        assert self.kernels.checksums.crc32(data, value) == zlib.crc32(data, value)

    @pytest.mark.parametrize("name", ["sum8", "xor8"])
    def test_large_input_agrees_with_its_definition(self, name: str) -> None:
        # Past 64 KiB the compiled kernels run without the GIL.
        data = np.random.default_rng(seed=2).integers(0, 256, 300_001, np.uint8)
        assert getattr(self.kernels.checksums, name)(data) == REFERENCES[name](data.tobytes())

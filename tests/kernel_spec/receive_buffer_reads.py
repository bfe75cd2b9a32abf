"""The receive buffer's spec, part one: what it holds and what reads take
from it (``feed``, ``peek``, ``skip``, ``take*``, ``find``, ``copy_into``).

Properties first (chunking, the reference model), then the fixed cases that
the model does not decide: the kinds of buffer accepted and returned,
asyncio's own error messages, and regressions of the separator scan.
"""

from __future__ import annotations

import asyncio
import ctypes
import typing

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from tcpframe._kernels import Kernels

from .receive_buffer_model import MACHINE_SETTINGS, ReceiveBufferMachine
from .streams import SEPARATORS, TOKENS, chunkings, deliver, spec_settings, split_at


class Header(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("sync", ctypes.c_uint8),
        ("sequence", ctypes.c_uint32),
        ("value", ctypes.c_double),
    ]


class ReceiveBufferReadSpec:
    """What reads from a receive buffer do, on every implementation."""

    kernels: Kernels

    @spec_settings(max_examples=200)
    @given(
        stream=st.lists(st.sampled_from(TOKENS), max_size=100).map(b"".join),
        separator=st.sampled_from(SEPARATORS),
        data=st.data(),
    )
    def test_lines_do_not_depend_on_chunking(self, stream: bytes, separator: bytes, data: st.DataObject) -> None:
        expected = split_at(stream, separator)
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            lines = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while (line := buffer.take_until(separator, len(stream) + 1)) is not None:
                    lines.append(line)
            assert lines + [buffer.take()] == expected, label

    @spec_settings(max_examples=200)
    @given(stream=st.binary(max_size=300), record_size=st.integers(min_value=1, max_value=40), data=st.data())
    def test_records_do_not_depend_on_chunking(self, stream: bytes, record_size: int, data: st.DataObject) -> None:
        whole = len(stream) - len(stream) % record_size
        expected = [stream[i : i + record_size] for i in range(0, whole, record_size)] + [stream[whole:]]
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            records: list[bytes] = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while True:  # take_exactly and copy_into in turn
                    if len(records) % 2:
                        record = bytearray(record_size)
                        if not buffer.copy_into(record):
                            break
                        records.append(bytes(record))
                    elif (taken := buffer.take_exactly(record_size)) is not None:
                        records.append(taken)
                    else:
                        break
            assert records + [buffer.take()] == expected, label

    def test_scan_restarts_when_the_separator_changes(self) -> None:
        # Not random: a stale scan offset from another separator would skip a match.
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        buffer.feed(b"ZZZZZZY\r\n")
        assert buffer.find(b"\r\n") == 7
        assert buffer.find(b"ZY") == 5
        assert buffer.find(b"Z") == 0
        assert buffer.find(bytearray(b"Z")) == 0

    def test_receive_buffer_follows_the_reference_model(self) -> None:
        machine = type("ReceiveBufferMachine", (ReceiveBufferMachine,), {"implementation": self.kernels.receive_buffer})
        run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)

    # Fixed cases: what the reference model does not say (the types accepted
    # and returned, asyncio's error messages) and deterministic regressions
    # of the separator scan.

    def filled(self, *chunks: bytes, min_receive_size: int = 16) -> typing.Any:
        """A buffer of this implementation holding ``chunks``, fed in turn."""
        buffer = self.kernels.receive_buffer.ReceiveBuffer(min_receive_size)
        for chunk in chunks:
            buffer.feed(chunk)
        return buffer

    def test_feed_appends_any_contiguous_bytes_like_object(self) -> None:
        header = Header(0xA5, 7, 1.5)
        buffer = self.filled(
            b"ab",
            bytearray(b"cd"),
            memoryview(b"xefx")[1:3],
            np.array([0x6867], dtype="<u2"),
            header,
        )
        assert len(buffer) == 8 + ctypes.sizeof(Header)
        assert buffer.take(8) == b"abcdefgh"
        assert buffer.take() == bytes(header)

    def test_feed_copies_the_data(self) -> None:
        data = bytearray(b"abc")
        buffer = self.filled(data)
        data[0] = ord("z")
        assert buffer.take() == b"abc"

    def test_feed_refuses_str_by_name(self) -> None:
        buffer = self.filled()
        with pytest.raises(TypeError, match="data must be bytes-like, not str"):
            buffer.feed("text")
        assert len(buffer) == 0

    @pytest.mark.parametrize("data", [12, None, np.arange(8, dtype=np.uint8)[::2]])
    def test_feed_refuses_non_buffers_and_non_contiguous_buffers(self, data: object) -> None:
        buffer = self.filled()
        with pytest.raises(TypeError):
            buffer.feed(data)
        assert len(buffer) == 0

    def test_clear_discards_the_bytes_and_the_scan(self) -> None:
        buffer = self.filled(b"line\nrest")
        assert buffer.find(b"\n") == 4
        buffer.clear()
        assert len(buffer) == 0
        buffer.feed(b"ab\n")
        assert buffer.find(b"\n") == 2

    @pytest.mark.parametrize("method", ["peek", "skip"])
    def test_peek_and_skip_refuse_a_negative_size_by_value(self, method: str) -> None:
        buffer = self.filled(b"abc")
        with pytest.raises(ValueError, match="n must not be negative, not -1"):
            getattr(buffer, method)(-1)
        assert buffer.take() == b"abc"

    @pytest.mark.parametrize("n", [-1, -100])
    def test_take_of_a_negative_size_takes_everything_as_bytes(self, n: int) -> None:
        buffer = self.filled(b"abc", b"def")
        taken = buffer.take(n)
        assert type(taken) is bytes
        assert taken == b"abcdef"
        assert len(buffer) == 0

    def test_take_exactly_refuses_a_negative_size_as_asyncio_does(self) -> None:
        buffer = self.filled(b"abc")
        with pytest.raises(ValueError, match="readexactly size can not be less than zero"):
            buffer.take_exactly(-1)
        assert len(buffer) == 3

    @pytest.mark.parametrize("separator", [bytearray(b"\r\n"), memoryview(b"\r\n")])
    def test_find_and_take_until_accept_bytearray_and_memoryview_separators(self, separator: object) -> None:
        buffer = self.filled(b"a\r\nb")
        assert buffer.find(separator) == 1
        assert buffer.take_until(separator, 10) == b"a\r\n"

    def test_find_resumes_after_a_partial_match(self) -> None:
        buffer = self.filled(b"aXYZZ")
        assert buffer.find(b"XYZZY") == -1
        buffer.feed(b"XYZZY")
        assert buffer.find(b"XYZZY") == 5

    @pytest.mark.parametrize(
        ("data", "separator", "index"),
        [
            (b"XYZZXYZZYY", b"XYZZY", 4),
            (b"YXYZZXYZZY", b"XYZZY", 5),
            (b"\n\n\r\r\n", b"\r\n", 3),
            (b"abaababab", b"abab", 3),
            (b"aaaab", b"aab", 2),
            (b"baa", b"aa", 1),
            (b"abaaa", b"aa", 2),
        ],
    )
    def test_find_skips_near_misses(self, data: bytes, separator: bytes, index: int) -> None:
        assert self.filled(data).find(separator) == index
        assert data.find(separator) == index

    def test_find_counts_from_the_unread_bytes_after_a_take_or_skip(self) -> None:
        buffer = self.filled(b"aa\nbb\ncc")
        assert buffer.take_until(b"\n", 10) == b"aa\n"
        assert buffer.find(b"\n") == 2
        buffer.skip(1)
        assert buffer.find(b"\n") == 1
        assert buffer.take_until(b"\n", 10) == b"b\n"
        assert buffer.find(b"\n") == -1
        buffer.feed(b"\n")
        assert buffer.find(b"\n") == 2

    @pytest.mark.parametrize("separator", [b"", bytearray(), memoryview(b"")])
    def test_an_empty_separator_is_refused_as_asyncio_does(self, separator: object) -> None:
        buffer = self.filled(b"abc")
        with pytest.raises(ValueError, match="Separator should be at least one-byte string"):
            buffer.find(separator)
        with pytest.raises(ValueError, match="Separator should be at least one-byte string"):
            buffer.take_until(separator, 10)
        assert len(buffer) == 3

    @pytest.mark.parametrize(("separator", "type_name"), [("\n", "str"), (10, "int"), (None, "NoneType")])
    def test_a_non_bytes_separator_is_refused_by_type_name(self, separator: object, type_name: str) -> None:
        buffer = self.filled(b"a\nb")
        with pytest.raises(TypeError, match=f"separator must be bytes, not {type_name}"):
            buffer.find(separator)
        with pytest.raises(TypeError, match=f"separator must be bytes, not {type_name}"):
            buffer.take_until(separator, 10)
        assert buffer.take_until(b"\n", 10) == b"a\n"

    def test_check_separator_returns_bytes(self) -> None:
        check_separator = self.kernels.receive_buffer.check_separator
        assert check_separator(bytearray(b"\r\n")) == b"\r\n"
        assert type(check_separator(memoryview(b"XYZZY"))) is bytes

    @pytest.mark.parametrize("separator", SEPARATORS[:3])
    def test_take_until_overrun_past_a_found_separator_says_so_and_consumes_nothing(self, separator: bytes) -> None:
        buffer = self.filled(b"123456" + separator)
        with pytest.raises(asyncio.LimitOverrunError) as raised:
            buffer.take_until(separator, 5)
        assert str(raised.value) == "Separator is found, but chunk is longer than limit"
        assert raised.value.consumed == 6
        assert len(buffer) == 6 + len(separator)
        assert buffer.take_until(separator, 6) == b"123456" + separator

    @pytest.mark.parametrize("separator", SEPARATORS[:3])
    def test_take_until_overrun_without_a_separator_says_so_and_consumes_nothing(self, separator: bytes) -> None:
        buffer = self.filled(b"x" * 20)
        with pytest.raises(asyncio.LimitOverrunError) as raised:
            buffer.take_until(separator, 10)
        assert str(raised.value) == "Separator is not found, and chunk exceed the limit"
        assert raised.value.consumed == 21 - len(separator)
        assert buffer.peek(100) == b"x" * 20
        buffer.feed(separator)
        assert buffer.take_until(separator, 20) == b"x" * 20 + separator

    def test_take_until_refuses_a_negative_limit_by_value(self) -> None:
        buffer = self.filled(b"a\n")
        with pytest.raises(ValueError, match="limit must not be negative, not -1"):
            buffer.take_until(b"\n", -1)
        assert len(buffer) == 2

    @pytest.mark.parametrize("separator", SEPARATORS[:3])
    @pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
    def test_take_line_decodes_multibyte_codecs_and_drops_the_separator(self, separator: bytes, encoding: str) -> None:
        lines = ["température", "", "ok"]
        buffer = self.filled(b"".join(line.encode(encoding) + separator for line in lines))
        assert [buffer.take_line(separator, 1000, encoding) for _ in lines] == lines
        assert buffer.take_line(separator, 1000, encoding) is None
        assert len(buffer) == 0

    def test_take_line_decodes_utf8_by_any_of_its_names_and_strictly(self) -> None:
        """Every spelling of UTF-8 decodes alike, and an invalid line raises
        as the codec does and is consumed, also after another encoding."""
        buffer = self.filled("é1\né2\né3\n\xff\né4\n".encode().replace(b"\xc3\xbf", b"\xff"))
        assert buffer.take_line(b"\n", 100, "UTF8") == "é1"
        assert buffer.take_line(b"\n", 100, "latin-1") == "Ã©2"
        assert buffer.take_line(b"\n", 100, "utf_8") == "é3"
        with pytest.raises(UnicodeDecodeError) as excinfo:
            buffer.take_line(b"\n", 100, "utf-8")
        assert (excinfo.value.encoding, excinfo.value.object) == ("utf-8", b"\xff")
        assert buffer.take_line(b"\n", 100, "utf-8") == "é4"

    def test_take_line_refuses_an_unknown_codec_and_consumes_nothing(self) -> None:
        buffer = self.filled(b"line\n")
        with pytest.raises(LookupError):
            buffer.take_line(b"\n", 100, "no-such-codec")
        with pytest.raises(TypeError):
            buffer.take_line(b"\n", 100, None)
        assert buffer.take() == b"line\n"

    def test_copy_into_fills_a_packed_ctypes_structure(self) -> None:
        source = Header(0xA5, 123456, -2.25)
        buffer = self.filled(bytes(source) + b"rest")
        target = Header()
        assert ctypes.sizeof(target) == 13
        assert buffer.copy_into(target) is True
        assert (target.sync, target.sequence, target.value) == (0xA5, 123456, -2.25)
        assert buffer.take() == b"rest"

    def test_copy_into_fills_a_numpy_structured_array(self) -> None:
        dtype = np.dtype([("sequence", "<u4"), ("value", "<f8")])
        records = np.array([(1, 0.5), (2, -1.0), (3, 8.0)], dtype=dtype)
        buffer = self.filled(records.tobytes())
        target = np.zeros(3, dtype=dtype)
        assert buffer.copy_into(target) is True
        np.testing.assert_array_equal(target, records)
        assert len(buffer) == 0

    def test_copy_into_fills_a_c_contiguous_2d_array(self) -> None:
        buffer = self.filled(bytes(range(6)))
        target = np.zeros((2, 3), dtype=np.uint8)
        assert buffer.copy_into(target) is True
        assert target.tolist() == [[0, 1, 2], [3, 4, 5]]

    def test_copy_into_follows_a_resized_ctypes_object(self) -> None:
        target = (ctypes.c_char * 4)()
        buffer = self.filled(b"abcd", bytes(range(64)))
        assert buffer.copy_into(target)
        ctypes.resize(target, 64)
        assert buffer.copy_into(target)
        assert ctypes.string_at(ctypes.addressof(target), 64) == bytes(range(64))

    @pytest.mark.parametrize(
        ("target", "type_name"), [(b"abcd", "bytes"), (memoryview(bytearray(4)).toreadonly(), "memoryview")]
    )
    def test_copy_into_refuses_a_read_only_target_by_type_name(self, target: object, type_name: str) -> None:
        buffer = self.filled(b"abcdef")
        with pytest.raises(TypeError, match=f"cannot read into a read-only {type_name}"):
            buffer.copy_into(target)
        assert len(buffer) == 6

    def test_copy_into_refuses_a_non_contiguous_target(self) -> None:
        buffer = self.filled(b"abcdef")
        target = np.zeros(8, dtype=np.uint8)[::2]
        with pytest.raises(ValueError, match="cannot read into a non-C-contiguous ndarray"):
            buffer.copy_into(target)
        assert len(buffer) == 6

    @pytest.mark.parametrize(("target", "type_name"), [("text", "str"), (12, "int")])
    def test_copy_into_refuses_a_non_buffer_target_by_type_name(self, target: object, type_name: str) -> None:
        buffer = self.filled(b"abcdef")
        with pytest.raises(TypeError, match=f"{type_name} does not support the buffer protocol"):
            buffer.copy_into(target)
        assert len(buffer) == 6

"""Length-prefixed and checksummed frames: framings, FrameReader/FrameWriter,
clients and servers.

Connection tests run over real loopback sockets; the rest feed a
`FrameReader` by hand. What a bad frame does to the stream is part of the
contract: an oversize length prefix is left unread (the stream cannot be
resynchronised), a bad checksummed frame is consumed (the stream stays
aligned on the next frame).
"""

import asyncio
import ctypes
import pickle
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from coroutine_steps import count_suspensions, run_without_suspending
from tcpframe import ChecksumFrame, ChecksumMismatchError, FrameError, LengthPrefix
from tcpframe.checksums import crc16_modbus, sum8, xor8

# A real NMEA 0183 sentence and its checksum.
GGA_BODY = b"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
GGA_SENTENCE = b"$" + GGA_BODY + b"*47\r\n"

# The chiller command of the README: sum8 over ".0101WatchDog", lowercase.
CHILLER = ChecksumFrame(
    checksum="sum8", start=b".", separator=b"", terminator=b"\r", covers_start=True, uppercase=False
)

MODBUS_BINARY = ChecksumFrame(
    checksum="crc16_modbus", encoding="binary", start=b"", separator=b"", terminator=b"\n", byteorder="little"
)


class Sample(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


def fed_reader(*chunks: bytes, eof: bool = False) -> tcpframe.FrameReader:
    reader = tcpframe.FrameReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


# --- LengthPrefix -----------------------------------------------------------


def test_length_prefix_defaults_to_four_bytes_big_endian_counting_the_payload() -> None:
    prefix = LengthPrefix()
    assert (prefix.size, prefix.byteorder, prefix.includes_prefix) == (4, "big", False)
    assert prefix.max_frame_size == tcpframe.framing.DEFAULT_MAX_FRAME_SIZE
    assert tcpframe.DEFAULT_LENGTH_PREFIX == prefix
    assert prefix.encode(258) == b"\x00\x00\x01\x02"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 3},
        {"size": 0},
        {"size": True},
        {"size": "4"},
        {"byteorder": "middle"},
        {"byteorder": "BIG"},
        {"includes_prefix": 1},
        {"max_frame_size": -1},
        {"max_frame_size": 1.5},
        {"max_frame_size": 2**63},
    ],
)
def test_length_prefix_rejects_bad_parameters_with_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LengthPrefix(**kwargs)


def test_length_prefix_is_frozen_and_hashable() -> None:
    prefix = LengthPrefix(2, "little")
    with pytest.raises(AttributeError):
        prefix.size = 4  # type: ignore[misc]
    assert {prefix: 1}[LengthPrefix(2, "little")] == 1


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("byteorder", ["big", "little"])
@pytest.mark.parametrize("includes_prefix", [False, True])
def test_length_prefix_encodes_the_length_in_its_size_and_byte_order(
    size: int, byteorder: str, includes_prefix: bool
) -> None:
    prefix = LengthPrefix(size, byteorder, includes_prefix)
    length = 200 + size if includes_prefix else 200
    assert prefix.encode(200) == length.to_bytes(size, byteorder)


def test_length_prefix_refuses_to_encode_a_payload_too_large_for_it() -> None:
    with pytest.raises(FrameError, match="exceeds max_frame_size=10"):
        LengthPrefix(max_frame_size=10).encode(11)
    with pytest.raises(FrameError, match="does not fit a 1-byte length prefix"):
        LengthPrefix(1).encode(256)
    with pytest.raises(FrameError, match="does not fit"):
        LengthPrefix(1, includes_prefix=True).encode(255)
    assert LengthPrefix(1, includes_prefix=True).encode(254) == b"\xff"


# --- ChecksumFrame ----------------------------------------------------------


def test_default_checksum_frame_is_an_nmea_sentence() -> None:
    assert tcpframe.NMEA == ChecksumFrame()
    assert tcpframe.NMEA.encode(GGA_BODY) == GGA_SENTENCE


def test_checksum_frame_encodes_the_readme_chiller_command() -> None:
    assert CHILLER.encode(b"0101WatchDog") == b".0101WatchDog01\r"
    assert sum8(b".0101WatchDog") == 0x01


@pytest.mark.parametrize(
    ("framing", "body", "frame"),
    [
        (ChecksumFrame(uppercase=False), b"AB", b"$AB*03\r\n"),
        (ChecksumFrame(checksum="crc32"), b"123456789", b"$123456789*CBF43926\r\n"),
        (ChecksumFrame(checksum="crc16_modbus", separator=b""), b"123456789", b"$1234567894B37\r\n"),
        (MODBUS_BINARY, b"123456789", b"123456789\x37\x4b\n"),
        (ChecksumFrame(checksum="xor8", encoding="binary", byteorder="little"), b"AB", b"$AB*\x03\r\n"),
    ],
)
def test_checksum_frame_writes_the_checksum_in_its_encoding(framing: ChecksumFrame, body: bytes, frame: bytes) -> None:
    assert framing.encode(body) == frame


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"checksum": "md5"}, "checksum"),
        ({"encoding": "base64"}, "encoding"),
        ({"start": "$"}, "start"),
        ({"separator": None}, "separator"),
        ({"terminator": b""}, "terminator"),
        ({"terminator": "\r\n"}, "terminator"),
        ({"byteorder": "native"}, "byteorder"),
    ],
)
def test_checksum_frame_rejects_bad_parameters_with_value_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ChecksumFrame(**kwargs)


def test_checksum_frame_refuses_to_encode_a_frame_holding_its_terminator_early() -> None:
    with pytest.raises(FrameError, match="terminator"):
        tcpframe.NMEA.encode(b"two\r\nlines")
    # A binary CRC that happens to contain the terminator byte.
    body = next(bytes([n]) for n in range(256) if b"\n" in crc16_modbus(bytes([n])).to_bytes(2, "little"))
    with pytest.raises(FrameError, match="terminator"):
        MODBUS_BINARY.encode(body)


# --- Errors -----------------------------------------------------------------


def test_checksum_mismatch_error_names_expected_and_received_values() -> None:
    error = ChecksumMismatchError("xor8", 0x47, 0x4A, b"$X*4A\r\n")
    assert isinstance(error, FrameError) and isinstance(error, ValueError)
    assert (error.checksum, error.expected, error.received, error.frame) == ("xor8", 0x47, 0x4A, b"$X*4A\r\n")
    assert "expected 0x47" in str(error) and "received 0x4A" in str(error) and "$X*4A" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.expected, copy.frame) == (str(error), 0x47, b"$X*4A\r\n")


def test_frame_error_pickles_with_its_frame() -> None:
    copy = pickle.loads(pickle.dumps(FrameError("bad", b"frame")))
    assert (str(copy), copy.frame) == ("bad", b"frame")


# --- FrameReader: length-prefixed frames --------------------------------------


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("byteorder", ["big", "little"])
@pytest.mark.parametrize("includes_prefix", [False, True])
async def test_read_frame_returns_each_payload(size: int, byteorder: str, includes_prefix: bool) -> None:
    prefix = LengthPrefix(size, byteorder, includes_prefix)
    payloads = [b"", b"x", bytes(range(200))]
    reader = fed_reader(*(prefix.encode(len(p)) + p for p in payloads), eof=True)
    assert [await reader.read_frame(prefix) for _ in payloads] == payloads
    assert reader.at_eof()


async def test_try_read_frame_returns_none_and_consumes_nothing_until_the_frame_is_complete() -> None:
    reader = fed_reader(b"\x00\x00")
    assert reader.try_read_frame() is None
    reader.feed_data(b"\x00\x03ab")
    assert reader.try_read_frame() is None
    assert reader.buffered == 6
    reader.feed_data(b"c")
    assert reader.try_read_frame() == b"abc"


async def test_blocked_read_frame_whose_prefix_is_buffered_is_woken_once() -> None:
    payload = bytes(range(256)) * 4
    reader = fed_reader(LengthPrefix().encode(len(payload)) + payload[:10])
    suspensions: list = []
    read = asyncio.create_task(count_suspensions(reader.read_frame(), suspensions))
    for start in range(10, len(payload), 20):
        await asyncio.sleep(0)
        reader.feed_data(payload[start : start + 20])
    assert await asyncio.wait_for(read, STD_TIMEOUT) == payload
    assert len(suspensions) == 1, f"woken {len(suspensions)} times for one frame"


async def test_read_frame_cut_short_by_eof_raises_incomplete_read_error_with_the_bytes_received() -> None:
    reader = fed_reader(b"\x00\x00\x00\x05ab", eof=True)
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await reader.read_frame()
    assert (caught.value.partial, caught.value.expected) == (b"\x00\x00\x00\x05ab", 9)
    reader = fed_reader(b"\x00\x00", eof=True)
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await reader.read_frame()
    assert (caught.value.partial, caught.value.expected) == (b"\x00\x00", 4)


@pytest.mark.parametrize(
    ("prefix", "header", "match"),
    [
        (LengthPrefix(max_frame_size=100), b"\x00\x00\x00\x65", "payload of 101 bytes, more than max_frame_size=100"),
        (LengthPrefix(8), b"\xff" * 8, f"payload of {2**64 - 1} bytes"),
        (LengthPrefix(2, includes_prefix=True), b"\x00\x01", "declares 1 bytes, fewer than the 2-byte prefix"),
    ],
)
async def test_oversize_or_undersize_frame_raises_frame_error_and_leaves_the_prefix_unread(
    prefix: LengthPrefix, header: bytes, match: str
) -> None:
    reader = fed_reader(header + b"rest")
    for _ in range(2):  # the stream stays where it was: the error repeats
        with pytest.raises(FrameError, match=match) as caught:
            await reader.read_frame(prefix)
        assert caught.value.frame is None
    assert await reader.readexactly(reader.buffered) == header + b"rest"


async def test_frame_error_is_raised_once_the_prefix_arrives_without_waiting_for_the_payload() -> None:
    reader = fed_reader()
    read = asyncio.create_task(reader.read_frame(LengthPrefix(max_frame_size=10)))
    await asyncio.sleep(0)
    reader.feed_data(b"\x00\x00\x10\x00")
    with pytest.raises(FrameError):
        await asyncio.wait_for(read, STD_TIMEOUT)


# --- FrameReader: checksummed frames ------------------------------------------


async def test_read_checksummed_verifies_and_returns_the_body() -> None:
    reader = fed_reader(GGA_SENTENCE, tcpframe.NMEA.encode(b"X*Y$Z"), b"$AB*03\r\n")
    assert await reader.read_checksummed() == GGA_BODY
    assert await reader.read_checksummed() == b"X*Y$Z"  # markers inside the body are fine
    assert await reader.read_checksummed(tcpframe.NMEA) == b"AB"


async def test_hex_checksums_are_accepted_in_either_case() -> None:
    reader = fed_reader(b"$GPRMC*4b\r\n", b"$GPRMC*4B\r\n")
    assert xor8(b"GPRMC") == 0x4B
    assert [await reader.read_checksummed(), await reader.read_checksummed()] == [b"GPRMC", b"GPRMC"]


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (CHILLER, b"0101WatchDog"),
        (MODBUS_BINARY, b"123456789"),
        (
            ChecksumFrame(checksum="crc32", encoding="binary", start=b"\x02", separator=b"", terminator=b"\x03\x04"),
            b"a",
        ),
        (ChecksumFrame(checksum="crc16_ccitt", start=b"<", separator=b"|", terminator=b">"), b"hello"),
        (ChecksumFrame(checksum="crc16_xmodem", start=b"", separator=b"", terminator=b"\n"), b""),
    ],
)
async def test_read_checksummed_reads_what_write_checksummed_framing_encodes(
    framing: ChecksumFrame, body: bytes
) -> None:
    reader = fed_reader(framing.encode(body) * 2)
    assert await reader.read_checksummed(framing) == body
    assert reader.try_read_checksummed(framing) == body
    assert reader.try_read_checksummed(framing) is None


async def test_checksum_mismatch_names_both_values_and_the_next_frame_is_read() -> None:
    bad = b"$GPGGA*00\r\n"
    reader = fed_reader(bad + GGA_SENTENCE)
    with pytest.raises(ChecksumMismatchError) as caught:
        await reader.read_checksummed()
    error = caught.value
    assert (error.expected, error.received, error.frame, error.checksum) == (xor8(b"GPGGA"), 0, bad, "xor8")
    assert f"expected 0x{xor8(b'GPGGA'):02X}" in str(error) and "received 0x00" in str(error)
    assert await reader.read_checksummed() == GGA_BODY


async def test_binary_crc_mismatch_reports_the_crc_values() -> None:
    frame = bytearray(MODBUS_BINARY.encode(b"123456789"))
    frame[0] ^= 1
    reader = fed_reader(bytes(frame))
    with pytest.raises(ChecksumMismatchError) as caught:
        await reader.read_checksummed(MODBUS_BINARY)
    assert (caught.value.expected, caught.value.received) == (crc16_modbus(bytes(frame[:9])), 0x4B37)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (b"GPGGA*56\r\n", r"does not start with b'\$'"),
        (b"$GPGGA56\r\n", r"no b'\*' before the checksum"),
        (b"$GPGGA*5G\r\n", r"checksum b'5G' is not 2 hex digits"),
        (b"$GPGGA* 6\r\n", "is not 2 hex digits"),
        (b"$GPGGA*+6\r\n", "is not 2 hex digits"),
        (b"$*\r\n", "too short"),
        (b"\r\n", "does not start"),
    ],
)
async def test_malformed_frame_raises_frame_error_and_is_consumed(bad: bytes, match: str) -> None:
    reader = fed_reader(bad + GGA_SENTENCE)
    with pytest.raises(FrameError, match=match) as caught:
        await reader.read_checksummed()
    assert caught.value.frame == bad
    assert await reader.read_checksummed() == GGA_BODY


async def test_checksummed_frame_longer_than_the_limit_raises_limit_overrun_and_stays_buffered() -> None:
    reader = tcpframe.FrameReader(limit=20)
    reader.feed_data(tcpframe.NMEA.encode(b"x" * 30))
    with pytest.raises(asyncio.LimitOverrunError):
        await reader.read_checksummed()
    assert reader.buffered == 36


async def test_read_checksummed_cut_short_by_eof_raises_incomplete_read_error() -> None:
    reader = fed_reader(b"$GPGGA*56", eof=True)
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await reader.read_checksummed()
    assert caught.value.partial == b"$GPGGA*56"


async def test_blocked_read_checksummed_is_woken_when_the_terminator_arrives() -> None:
    reader = fed_reader(b"$GPG")
    read = asyncio.create_task(reader.read_checksummed())
    await asyncio.sleep(0)
    assert not read.done()
    reader.feed_data(b"GA*56\r")
    await asyncio.sleep(0)
    assert not read.done()
    reader.feed_data(b"\n")
    assert await asyncio.wait_for(read, STD_TIMEOUT) == b"GPGGA"


# --- Over loopback: FrameWriter and FrameReader ---------------------------------


async def test_frames_written_by_frame_writer_are_read_by_frame_reader(open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair("tcpframe")
    prefix = LengthPrefix(2, "little")
    sample = Sample(7, 2.5)
    pair.client_writer.write_frame(b"first")
    pair.client_writer.write_frame(sample, prefix)
    pair.client_writer.write_frame(np.arange(3, dtype="<u2"), prefix)
    pair.client_writer.write_checksummed(GGA_BODY)
    pair.client_writer.write_checksummed(b"0101WatchDog", CHILLER)
    await pair.client_writer.drain()
    reader = pair.server_reader
    assert await asyncio.wait_for(reader.read_frame(), STD_TIMEOUT) == b"first"
    assert await asyncio.wait_for(reader.read_frame(prefix), STD_TIMEOUT) == bytes(sample)
    assert await asyncio.wait_for(reader.read_frame(prefix), STD_TIMEOUT) == b"\x00\x00\x01\x00\x02\x00"
    assert await asyncio.wait_for(reader.read_checksummed(), STD_TIMEOUT) == GGA_BODY
    assert await asyncio.wait_for(reader.read_checksummed(CHILLER), STD_TIMEOUT) == b"0101WatchDog"


async def test_a_frame_larger_than_the_receive_high_water_mark_is_read(open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair("tcpframe")
    payload = bytes(range(256)) * 16384  # 4 MiB, above the 1 MiB default
    read = asyncio.create_task(pair.server_reader.read_frame())
    pair.client_writer.write_frame(payload)
    await pair.client_writer.drain()
    assert await asyncio.wait_for(read, STD_TIMEOUT) == payload


async def test_write_frame_of_an_oversize_payload_raises_and_writes_nothing(open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair("tcpframe")
    with pytest.raises(FrameError):
        pair.client_writer.write_frame(bytes(300), LengthPrefix(1))
    with pytest.raises(TypeError):
        pair.client_writer.write_frame("text")
    pair.client_writer.write_frame(b"ok", LengthPrefix(1))
    await pair.client_writer.drain()
    assert await asyncio.wait_for(pair.server_reader.readexactly(3), STD_TIMEOUT) == b"\x02ok"


# --- Clients and servers --------------------------------------------------------


async def test_client_and_server_exchange_frames(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    prefix = LengthPrefix(8, "little", includes_prefix=True)
    await client.write_frame(b"hello", prefix)
    await client.write_checksummed(GGA_BODY)
    assert await asyncio.wait_for(server.read_frame(prefix), STD_TIMEOUT) == b"hello"
    assert await asyncio.wait_for(server.read_checksummed(), STD_TIMEOUT) == GGA_BODY
    await server.write_frame(np.array([1.5], "<f8"))
    await server.write_checksummed(b"0101WatchDog", CHILLER)
    assert await asyncio.wait_for(client.read_frame(), STD_TIMEOUT) == np.array([1.5], "<f8").tobytes()
    assert await asyncio.wait_for(client.read_checksummed(CHILLER), STD_TIMEOUT) == b"0101WatchDog"


async def test_reads_of_buffered_frames_complete_without_yielding(
    connect_pair: typing.Callable, until: typing.Callable
) -> None:
    server, client = await connect_pair()
    await client.write_frame(b"frame")
    await client.write_checksummed(GGA_BODY)
    await until(lambda: server.reader.buffered == 9 + len(GGA_SENTENCE))
    assert run_without_suspending(server.read_frame()) == b"frame"
    assert run_without_suspending(server.read_checksummed()) == GGA_BODY
    reader = fed_reader(b"\x00\x00\x00\x01x", GGA_SENTENCE)
    assert run_without_suspending(reader.read_frame()) == b"x"
    assert run_without_suspending(reader.read_checksummed()) == GGA_BODY


async def test_client_checksum_mismatch_keeps_the_connection_and_reads_the_next_frame(
    connect_pair: typing.Callable,
) -> None:
    server, client = await connect_pair()
    await server.write(b"$GPGGA*00\r\n" + GGA_SENTENCE)
    with pytest.raises(ChecksumMismatchError):
        await asyncio.wait_for(client.read_checksummed(), STD_TIMEOUT)
    assert client.connected
    assert await asyncio.wait_for(client.read_checksummed(), STD_TIMEOUT) == GGA_BODY


async def test_client_oversize_frame_keeps_the_connection_with_the_prefix_unread(
    connect_pair: typing.Callable,
) -> None:
    server, client = await connect_pair()
    await server.write(b"\x00\x01\x00\x00")
    prefix = LengthPrefix(max_frame_size=1000)
    with pytest.raises(FrameError, match="65536 bytes"):
        await asyncio.wait_for(client.read_frame(prefix), STD_TIMEOUT)
    assert client.connected
    assert await asyncio.wait_for(client.readexactly(4), STD_TIMEOUT) == b"\x00\x01\x00\x00"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.read_frame(),
        lambda c: c.read_checksummed(),
        lambda c: c.write_frame(b"x"),
        lambda c: c.write_checksummed(b"x"),
    ],
    ids=["read_frame", "read_checksummed", "write_frame", "write_checksummed"],
)
async def test_frame_calls_raise_not_connected_on_a_closed_client(
    call: typing.Callable, log: typing.Any
) -> None:
    client = tcpframe.Client(host="", port=0, log=log)
    with pytest.raises(ConnectionError, match="Not connected"):
        await call(client)


@pytest.mark.parametrize("method", ["read_frame", "read_checksummed"])
async def test_frame_cut_short_when_the_peer_closes_closes_the_client_and_calls_back(
    connect_pair: typing.Callable, make_recorder: typing.Any, method: str
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(client_kwargs={"connect_callback": recorder.callback})
    assert await recorder.next() is True
    partial = b"\x00\x00\x00\x09abc" if method == "read_frame" else b"$GPGGA*5"
    await server.write(partial)
    await server.close_client()
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await asyncio.wait_for(getattr(client, method)(), STD_TIMEOUT)
    assert caught.value.partial == partial
    assert await recorder.next() is False
    assert not client.connected

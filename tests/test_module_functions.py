"""close_stream_writer, read_into, write_from, set_socket_options and the constants.

The module functions accept asyncio's streams and tcpframe's own reader
and writer, so each test runs on both kinds (and on connections that mix
them), over loopback, on asyncio's event loop and on uvloop.
"""

import asyncio
import ctypes
import inspect
import socket
import struct
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT

pytestmark = pytest.mark.all_event_loops


class TelemetryStruct(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("timestamp", ctypes.c_double),
        ("positions", ctypes.c_int64 * 3),
        ("status", ctypes.c_uint8),
    ]


def struct_fields(data: TelemetryStruct) -> tuple:
    return (data.timestamp, tuple(data.positions), data.status)


MIXES = [("asyncio", "asyncio"), ("tcpframe", "tcpframe"), ("asyncio", "tcpframe"), ("tcpframe", "asyncio")]
MIX_IDS = [f"{server}-server-{client}-client" for server, client in MIXES]


@pytest.mark.parametrize(("server_api", "client_api"), MIXES, ids=MIX_IDS)
async def test_write_from_then_read_into_round_trips_structs_both_ways(
    open_stream_pair: typing.Callable, server_api: str, client_api: str
) -> None:
    pair = await open_stream_pair(server_api, client_api=client_api)
    sent = [TelemetryStruct(timestamp=i + 0.5, positions=(i, -i, i * i), status=i) for i in range(5)]
    await tcpframe.write_from(pair.client_writer, *sent)
    await tcpframe.write_from(pair.server_writer, *reversed(sent))
    for expected in sent:
        received = TelemetryStruct()
        await asyncio.wait_for(tcpframe.read_into(pair.server_reader, received), STD_TIMEOUT)
        assert struct_fields(received) == struct_fields(expected)
    for expected in reversed(sent):
        received = TelemetryStruct()
        await asyncio.wait_for(tcpframe.read_into(pair.client_reader, received), STD_TIMEOUT)
        assert struct_fields(received) == struct_fields(expected)


async def test_read_into_fills_bytearrays_and_numpy_arrays(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    values = np.arange(6, dtype="<f8")
    await tcpframe.write_from(pair.client_writer, b"abcd", values)
    into_bytearray = bytearray(4)
    into_array = np.zeros(6, dtype="<f8")
    await asyncio.wait_for(tcpframe.read_into(pair.server_reader, into_bytearray), STD_TIMEOUT)
    await asyncio.wait_for(tcpframe.read_into(pair.server_reader, into_array), STD_TIMEOUT)
    assert into_bytearray == b"abcd"
    assert np.array_equal(into_array, values)


async def test_read_into_at_eof_raises_incomplete_read_with_the_partial_bytes(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write(b"\x01\x02\x03")
    pair.client_writer.write_eof()
    received = TelemetryStruct()
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await asyncio.wait_for(tcpframe.read_into(pair.server_reader, received), STD_TIMEOUT)
    assert excinfo.value.partial == b"\x01\x02\x03"
    assert excinfo.value.expected == ctypes.sizeof(TelemetryStruct)
    assert struct_fields(received) == struct_fields(TelemetryStruct())  # untouched


async def test_read_into_a_reset_connection_raises_connection_error(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    sock = pair.client_writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    pair.client_writer.transport.abort()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(tcpframe.read_into(pair.server_reader, TelemetryStruct()), STD_TIMEOUT)


async def test_read_into_rejects_read_only_and_non_contiguous_buffers(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write(b"x" * 64)
    await pair.client_writer.drain()
    with pytest.raises(TypeError):
        await tcpframe.read_into(pair.server_reader, b"read-only")
    with pytest.raises(ValueError):
        await tcpframe.read_into(pair.server_reader, np.zeros((4, 4), dtype=np.uint8)[:, ::2])
    # Nothing was consumed by the rejected calls.
    assert await asyncio.wait_for(pair.server_reader.readexactly(64), STD_TIMEOUT) == b"x" * 64


async def test_close_stream_writer_closes_and_is_safe_to_call_twice(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write(b"last words")
    await tcpframe.close_stream_writer(pair.client_writer)
    assert pair.client_writer.is_closing()
    await tcpframe.close_stream_writer(pair.client_writer)
    assert await asyncio.wait_for(pair.server_reader.read(-1), STD_TIMEOUT) == b"last words"


async def test_close_stream_writer_swallows_the_connection_error_of_a_reset_connection(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    sock = pair.client_writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    pair.client_writer.transport.abort()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(pair.server_reader.read(1), STD_TIMEOUT)
    await asyncio.wait_for(tcpframe.close_stream_writer(pair.server_writer), STD_TIMEOUT)
    await asyncio.wait_for(tcpframe.close_stream_writer(pair.server_writer), STD_TIMEOUT)
    assert pair.server_writer.is_closing()


def keepalive_settings(sock: typing.Any) -> dict[str, int]:
    settings = {"SO_KEEPALIVE": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)}
    idle_option = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))
    assert idle_option is not None, "no keepalive idle-time socket option on this platform"
    settings["idle"] = sock.getsockopt(socket.IPPROTO_TCP, idle_option)
    settings["interval"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
    settings["probes"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
    return settings


EXPECTED_KEEPALIVE = {
    "SO_KEEPALIVE": 1,
    "idle": tcpframe.KEEPALIVE_TIME,
    "interval": tcpframe.KEEPALIVE_INTERVAL,
    "probes": tcpframe.KEEPALIVE_PROBES,
}


async def test_set_socket_options_turns_on_keepalive_with_the_keepalive_constants(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    sock = pair.client_writer.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
    assert inspect.iscoroutinefunction(tcpframe.set_socket_options)  # awaited, as in lsst.ts.tcpip 2.2
    await tcpframe.set_socket_options(pair.client_writer)
    assert keepalive_settings(sock) == EXPECTED_KEEPALIVE
    assert keepalive_settings(pair.server_writer.get_extra_info("socket"))["SO_KEEPALIVE"] == 0


async def test_clients_and_servers_set_keepalive_on_their_sockets(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    assert keepalive_settings(client.writer.get_extra_info("socket")) == EXPECTED_KEEPALIVE
    assert keepalive_settings(server.writer.get_extra_info("socket")) == EXPECTED_KEEPALIVE


def test_constants_have_the_lsst_ts_tcpip_values() -> None:
    assert tcpframe.DEFAULT_ENCODING == "utf-8"
    assert tcpframe.DEFAULT_TERMINATOR == tcpframe.TERMINATOR == b"\r\n"
    assert tcpframe.DEFAULT_MONITOR_CONNECTION_INTERVAL == 0.1
    assert tcpframe.HEARTBEAT == b"heartbeat"
    assert tcpframe.LOCALHOST_IPV4 == "127.0.0.1"
    assert tcpframe.LOCALHOST_IPV6 == "::1"
    assert tcpframe.DEFAULT_LOCALHOST == tcpframe.LOCAL_HOST == "127.0.0.1"
    assert (tcpframe.KEEPALIVE_TIME, tcpframe.KEEPALIVE_PROBES, tcpframe.KEEPALIVE_INTERVAL) == (60, 4, 15)
    assert tcpframe.DEFAULT_MAX_HEARTBEAT_INTERVAL == 10.0


def test_constants_are_also_reachable_from_the_constants_and_utils_modules() -> None:
    for name in tcpframe.constants.__all__:
        assert getattr(tcpframe, name) == getattr(tcpframe.constants, name)
    for name in ("KEEPALIVE_TIME", "KEEPALIVE_PROBES", "KEEPALIVE_INTERVAL"):
        assert getattr(tcpframe.utils, name) == getattr(tcpframe, name)

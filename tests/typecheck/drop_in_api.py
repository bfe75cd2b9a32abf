"""lsst.ts.tcpip-style code on tcpframe, as one typed user program.

The lsst.ts.tcpip surface that the README promises runs unchanged after
``import tcpframe as tcpip``: servers subclassed the usual way, the module
functions on asyncio streams and on tcpframe's own reader and writer, the
test helpers, constants and checksums. ``scripts/check_package.sh``
type-checks this file with ``mypy --strict`` against the installed package
and runs it.
"""

import asyncio
import ctypes
import logging
import typing
import unittest

import tcpframe as tcpip


class Header(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint32), ("timestamp", ctypes.c_double)]


class Command(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int32)]


class CommandServer(tcpip.OneClientReadLoopServer):
    """Read one `Command` struct at a time; answer each with a `Header`."""

    def __init__(self, log: logging.Logger, connect_callback: tcpip.ConnectCallbackType | None = None) -> None:
        self.commands: list[int] = []
        super().__init__(port=0, log=log, connect_callback=connect_callback, name="commands")

    async def read_and_dispatch(self) -> None:
        command = Command()
        await self.read_into(command)
        self.commands.append(command.code)
        await self.write_from(Header(sequence=len(self.commands), timestamp=1.5))


async def server_and_client() -> None:
    log = logging.getLogger("drop-in")
    states: list[bool] = []

    async def record_state(client_or_server: tcpip.BaseClientOrServer) -> None:
        states.append(client_or_server.connected)

    async with CommandServer(log=log, connect_callback=record_state) as server:
        typing.assert_type(server, CommandServer)
        client = tcpip.Client(
            host=tcpip.LOCAL_HOST,
            port=server.port,
            log=log,
            terminator=tcpip.TERMINATOR,
            encoding=tcpip.DEFAULT_ENCODING,
        )
        async with client:
            await server.connected_task
            header = Header()
            for code in (7, 8):
                await client.write_from(Command(code=code))
                await client.read_into(header)
            assert header.sequence == 2 and server.commands == [7, 8]
            assert client.connected and client.reader is not None and client.writer is not None
    assert states[:2] == [True, False], states


async def module_functions_on_streams() -> None:
    """read_into, write_from, set_socket_options and close_stream_writer."""

    async def echo_structs(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await tcpip.set_socket_options(writer)
        header = Header()
        await tcpip.read_into(reader, header)
        await tcpip.write_from(writer, header, header)
        await tcpip.close_stream_writer(writer)

    server = await asyncio.start_server(echo_structs, tcpip.LOCALHOST_IPV4, 0)
    async with server:
        port: int = server.sockets[0].getsockname()[1]
        reader, writer = await tcpip.open_connection(tcpip.DEFAULT_LOCALHOST, port)
        typing.assert_type(reader, tcpip.FrameReader)
        typing.assert_type(writer, tcpip.FrameWriter)
        await tcpip.write_from(writer, Header(sequence=5, timestamp=2.5))
        echoed = [Header(), Header()]
        for header in echoed:
            await tcpip.read_into(reader, header)
        assert [header.sequence for header in echoed] == [5, 5]
        await tcpip.close_stream_writer(writer)


async def frame_reader_and_writer() -> None:
    """tcpframe's asyncio.start_server and StreamReader/StreamWriter twins."""

    async def send_lines(reader: tcpip.FrameReader, writer: tcpip.FrameWriter) -> None:
        writer.writelines([b"one\n", b"two\n"])
        writer.write_structs([Header(sequence=3)])
        writer.write_checksummed(b"body")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await tcpip.start_server(send_lines, tcpip.LOCALHOST_IPV4, 0)
    async with server:
        port: int = server.sockets[0].getsockname()[1]
        reader, writer = await tcpip.open_connection(tcpip.LOCALHOST_IPV4, port)
        lines = [line async for line in reader.iter_lines()]
        assert lines[:2] == [b"one\n", b"two\n"], lines
        writer.close()
        await writer.wait_closed()


async def checksums_and_constants() -> None:
    for checksum in (tcpip.checksums.sum8, tcpip.checksums.xor8, tcpip.checksums.crc16_modbus):
        value: int = checksum(b"123456789")
        print(f"{checksum.__name__}: {value:#x}")
    assert tcpip.checksums.crc32(b"123456789") == 0xCBF43926
    print(tcpip.HEARTBEAT, tcpip.KEEPALIVE_TIME, tcpip.KEEPALIVE_INTERVAL, tcpip.KEEPALIVE_PROBES)
    print(tcpip.DEFAULT_MONITOR_CONNECTION_INTERVAL, tcpip.DEFAULT_MAX_HEARTBEAT_INTERVAL, tcpip.LOCALHOST_IPV6)
    assert tcpip.DEFAULT_TERMINATOR == b"\r\n"
    prefix: tcpip.LengthPrefix = tcpip.DEFAULT_LENGTH_PREFIX
    framing: tcpip.ChecksumFrame = tcpip.NMEA
    print(prefix.encode(3), framing.encode(b"GPGGA"))
    assert issubclass(tcpip.ChecksumMismatchError, tcpip.FrameError)


class EchoTestCase(tcpip.BaseOneClientServerTestCase):
    """README: a user's test case, as written for lsst.ts.tcpip."""

    server_class = tcpip.TestOneClientReadLoopServer

    async def test_round_trip(self) -> None:
        # create_server wires no callback: pass it to the server (or the
        # client) to have assert_next_connected see its calls.
        async with self.create_server(connect_callback=self.connect_callback) as server:
            async with self.create_client(server) as client:
                await self.assert_next_connected(True)
                await client.write_str("hello")
                self.assertEqual(await server.get_next_data(), "hello")
            await self.assert_next_connected(False)


class HeartbeatTestCase(tcpip.BaseOneClientServerTestCase[tcpip.TestOneClientReadLoopServer]):
    """The same, with the server type named for the type checker."""

    server_class = tcpip.TestOneClientReadLoopServer

    async def test_heartbeats_and_data(self) -> None:
        async with self.create_server(
            connect_callback=self.connect_callback, run_heartbeat_monitor_task=True
        ) as server:
            typing.assert_type(server, tcpip.TestOneClientReadLoopServer)
            async with self.create_client(server) as client:
                await self.assert_next_connected(True)
                await client.write(tcpip.HEARTBEAT + client.terminator)
                await client.write_str("data")
                self.assertEqual(await server.get_next_data(), "data")
                heartbeat_time = server.heartbeat_received_tai
                assert heartbeat_time is not None and heartbeat_time > 0
            await self.assert_next_connected(False)


async def main() -> None:
    print(f"tcpframe {tcpip.__version__}, compiled kernels: {tcpip.ACCELERATED}")
    await server_and_client()
    await module_functions_on_streams()
    await frame_reader_and_writer()
    await checksums_and_constants()


if __name__ == "__main__":
    asyncio.run(main())
    tests = unittest.TestSuite(
        unittest.defaultTestLoader.loadTestsFromTestCase(case) for case in (EchoTestCase, HeartbeatTestCase)
    )
    result = unittest.TextTestRunner(verbosity=0).run(tests)
    raise SystemExit(0 if result.wasSuccessful() else 1)

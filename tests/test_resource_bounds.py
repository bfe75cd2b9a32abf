"""Hardening: memory stays bounded under load, and nothing leaks.

Every test runs over TCP and over TLS (the ``peer_transport`` fixture).

* A fast sender (a thread writing as fast as loopback takes it, 512 MiB
  offered) against a slow reader: the receive buffer pauses the socket at
  its high-water mark, so peak RSS grows by a few MiB, not by what is
  offered, and every byte read is the byte sent.
* An echo server whose client floods it and does not read: the server
  stops reading (its writes wait in drain), both its buffers stay bounded,
  and when the client reads, every line comes back intact.
* 500 connect/disconnect cycles, ended every way a connection ends, leave
  no file descriptors, tasks, transports or protocols behind, and no
  `ResourceWarning`. ``python -m tools.soak`` does the same for 10,000
  cycles and longer floods.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import ssl
import struct
import threading
import time
import typing
import warnings

import psutil
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from raw_peer import LOCALHOST, RawListener, RawPeer, within_timeout
from tcpframe.examples import EchoServer
from tcpframe.stream.reader import DEFAULT_HIGH_WATER
from tcpframe.stream.writer import FLUSH_SIZE
from tools.soak import count_resources
from transports import Transport

MiB = 2**20
OFFERED = 512 * MiB
# The counting pattern the fast sender sends: byte k of the stream is k % 256.
PATTERN = bytes(range(256)) * (MiB // 256)


class FastSender(threading.Thread):
    """Send ``total`` bytes of the counting pattern on a blocking socket as
    fast as the other end lets us; stop early when told or when the
    connection ends. Given a TLS context, speak TLS. `start` the thread
    (it does the TLS handshake), then `begin` sending."""

    def __init__(
        self, sock: socket.socket, total: int = OFFERED, tls: ssl.SSLContext | None = None, server_side: bool = True
    ) -> None:
        super().__init__(daemon=True)
        sock.setblocking(True)
        sock.settimeout(STD_TIMEOUT)
        self.sock = sock
        self.total = total
        self.tls = tls
        self.server_side = server_side
        self.sent = 0
        self.beginning = threading.Event()
        self.stopping = threading.Event()

    def begin(self) -> None:
        self.beginning.set()

    def run(self) -> None:
        if self.tls is not None:
            hostname = None if self.server_side else LOCALHOST
            self.sock = self.tls.wrap_socket(self.sock, server_side=self.server_side, server_hostname=hostname)
        self.sock.settimeout(0.1)
        while not self.beginning.wait(0.01):
            if self.stopping.is_set():
                return
        view = memoryview(PATTERN)
        while self.sent < self.total and not self.stopping.is_set():
            try:
                self.sent += self.sock.send(view[: min(len(view), self.total - self.sent)])
            except TimeoutError:
                continue
            except OSError:
                return

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        assert not self.is_alive()
        self.sock.close()


class PeakMemory:
    """Peak RSS of this process while active, sampled every millisecond by a
    thread and, on Linux, also read from ``VmHWM`` after resetting it."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.baseline = 0
        self.peak = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stopping.wait(0.001):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        gc.collect()
        self.baseline = self.peak = self.process.memory_info().rss
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # reset VmHWM to the current RSS
        except OSError:
            pass
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join()
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
        except OSError:
            pass

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


async def read_slowly(reader: typing.Any, frame_reader: tcpframe.FrameReader, seconds: float) -> tuple[int, int]:
    """Read 64 KiB every 2 ms for ``seconds``; check every byte against the
    pattern. Return (bytes read, most bytes seen buffered)."""
    offset = 0
    most_buffered = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        most_buffered = max(most_buffered, frame_reader.buffered)
        data = await within_timeout(reader.readexactly(2**16))
        start = offset % 256
        assert data == PATTERN[start : start + len(data)], f"wrong bytes at offset {offset}"
        offset += len(data)
        await asyncio.sleep(0.002)
    return offset, most_buffered


def assert_bounded(
    memory: PeakMemory, most_buffered: int, sender: FastSender, read: int, transport: Transport
) -> None:
    print(
        f"peak RSS growth {memory.growth / MiB:.1f} MiB, most buffered {most_buffered / MiB:.2f} MiB,"
        f" sent {sender.sent / MiB:.0f} of {OFFERED / MiB:.0f} MiB offered, read {read / MiB:.0f} MiB"
    )
    # What the reader may hold: the high-water mark plus one receive.
    assert most_buffered <= DEFAULT_HIGH_WATER + transport.most_one_receive, most_buffered
    assert memory.growth < 64 * MiB, f"peak RSS grew by {memory.growth / MiB:.1f} MiB"
    # The sender was held back: far from all it offered got through.
    assert sender.sent < OFFERED // 2
    assert read > 0


# --- Fast sender, slow reader -----------------------------------------------------


@pytest.mark.all_event_loops
async def test_a_fast_sender_cannot_make_a_slow_client_buffer_more_than_its_high_water_mark(
    log: logging.Logger, peer_transport: Transport
) -> None:
    listener = RawListener()  # accepted raw: the sender's thread does any TLS
    client = tcpframe.Client(log=log, **peer_transport.client_kwargs(listener))
    sock, _ = await within_timeout(asyncio.get_running_loop().sock_accept(listener.sock))
    sender = FastSender(sock, tls=peer_transport.peer_context(server_side=True))
    sender.start()
    try:
        await within_timeout(client.start_task)
        with PeakMemory() as memory:
            sender.begin()
            read, most_buffered = await read_slowly(client, client.reader, seconds=1.0)
    finally:
        sender.stop()
        await within_timeout(client.close())
        listener.close()
    assert_bounded(memory, most_buffered, sender, read, peer_transport)


async def test_a_fast_client_cannot_make_a_slow_server_buffer_more_than_its_high_water_mark(
    log: logging.Logger, peer_transport: Transport
) -> None:
    server = tcpframe.OneClientServer(log=log, **peer_transport.server_kwargs())
    await within_timeout(server.start_task)
    sock = socket.create_connection((LOCALHOST, server.port))
    sender = FastSender(sock, tls=peer_transport.peer_context(server_side=False), server_side=False)
    sender.start()
    try:
        await within_timeout(server.connected_task)
        with PeakMemory() as memory:
            sender.begin()
            read, most_buffered = await read_slowly(server, server.reader, seconds=1.0)
    finally:
        sender.stop()
        await within_timeout(server.close())
    assert_bounded(memory, most_buffered, sender, read, peer_transport)


# --- A client that floods an echo server and does not read --------------------------


def flood_lines(line_size: int) -> int:
    """How many lines of ``line_size`` bytes an echo flood needs to be held
    back: more than the kernel's TCP buffers can take in both directions
    (each side's send and receive buffer grows to the sysctl maxima, 36 MiB
    a direction on a stock Linux), plus 16 MiB for what tcpframe buffers."""
    most_buffered = 0
    for name in ("tcp_rmem", "tcp_wmem"):
        try:
            with open(f"/proc/sys/net/ipv4/{name}") as limits:
                most_buffered += int(limits.read().split()[2])
        except (OSError, IndexError, ValueError):
            most_buffered += 8 * MiB  # no Linux sysctl: a generous guess
    return (2 * most_buffered + 16 * MiB) // line_size


async def test_an_echo_server_flooded_by_a_client_that_does_not_read_stays_bounded_and_loses_nothing(
    log: logging.Logger, peer_transport: Transport
) -> None:
    """The server's writes wait in drain, so it stops reading, so its
    receive buffer pauses at the high-water mark and the flooding client is
    held back by TCP. Once the client reads, every line comes back."""
    lines = [b"%07d " % i + b"e" * 1000 + b"\r\n" for i in range(flood_lines(1010))]
    flood = b"".join(lines)
    async with EchoServer(log=log, **peer_transport.server_kwargs()) as server:
        peer = await RawPeer.connect(server.port, tls=peer_transport.peer_context(server_side=False))
        try:
            await within_timeout(server.connected_task)
            send_task = asyncio.create_task(peer.send(flood, timeout=20))
            most_buffered = most_pending = 0
            for _ in range(300):  # 0.3 s of flooding with nobody reading
                await asyncio.sleep(0.001)
                most_buffered = max(most_buffered, server.reader.buffered)
                writer = server.writer
                most_pending = max(most_pending, writer.transport.get_write_buffer_size() + writer.pending)
            assert not send_task.done()  # the client is held back
            assert most_buffered <= DEFAULT_HIGH_WATER + peer_transport.most_one_receive
            high_water = server.writer.transport.get_write_buffer_limits()[1]
            assert most_pending <= high_water + FLUSH_SIZE + len(lines[0])
            echoed = await peer.recv_exactly(len(flood), timeout=20)
            assert echoed == flood
            await within_timeout(send_task)
        finally:
            peer.close()


# --- Connect/disconnect cycles ---------------------------------------------------------


ENDINGS = ["client_close", "server_close_client", "client_reset", "raw_close", "raw_reset", "rejected"]


async def connect_and_end(
    server: tcpframe.TestOneClientReadLoopServer, log: logging.Logger, ending: str, transport: Transport
) -> None:
    """Connect one client, exchange a line each way, end the connection in
    the given way, and wait until the server has closed its end."""
    tls = transport.peer_context(server_side=False)
    if ending.startswith("raw"):
        peer = await RawPeer.connect(server.port, tls=tls)
        await peer.send(b"raw\r\n")
        assert await server.get_next_data() == "raw"
        peer.reset() if ending == "raw_reset" else peer.close()
    else:
        client = tcpframe.Client(log=log, **transport.client_kwargs(server))
        await within_timeout(client.start_task)
        await within_timeout(server.connected_task)
        await client.write_str("ping")
        assert await server.get_next_data() == "ping"
        await server.write_str("pong")
        assert await within_timeout(client.read_str()) == "pong"
        if ending == "rejected":
            intruder = await RawPeer.connect(server.port, tls=tls)
            assert await intruder.recv_until_eof() == b""
            intruder.close()
        if ending == "server_close_client":
            await server.close_client()
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                await within_timeout(client.read_str())
        elif ending == "client_reset":
            client.writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            client.writer.transport.abort()
        await within_timeout(client.close())
    async with asyncio.timeout(5):
        while server.connected or not server.writer.is_closing() or not server.read_loop_task.done():
            await asyncio.sleep(0.001)


@pytest.mark.all_event_loops
async def test_connect_disconnect_cycles_leave_no_fds_tasks_transports_or_warnings(
    log: logging.Logger, peer_transport: Transport
) -> None:
    server = tcpframe.TestOneClientReadLoopServer(log=log, **peer_transport.server_kwargs())
    try:
        await within_timeout(server.start_task)
        for ending in ENDINGS:  # warm up: first-use allocations are not leaks
            await connect_and_end(server, log, ending, peer_transport)
        before = count_resources()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for cycle in range(500):
                await connect_and_end(server, log, ENDINGS[cycle % len(ENDINGS)], peer_transport)
            after = count_resources()
        resource_warnings = [w for w in caught if issubclass(w.category, ResourceWarning)]
    finally:
        await within_timeout(server.close())
    assert after == before
    assert resource_warnings == []


async def test_a_closed_server_and_client_leave_no_fds_or_tasks(log: logging.Logger, peer_transport: Transport) -> None:
    """Servers and clients made and closed leave the process as it was."""
    before = count_resources()
    for _ in range(20):
        async with tcpframe.OneClientServer(log=log, **peer_transport.server_kwargs()) as server:
            async with tcpframe.Client(log=log, **peer_transport.client_kwargs(server)) as client:
                await within_timeout(server.connected_task)
                await client.write(b"x\r\n")
                assert await within_timeout(server.read_str()) == "x"
    del server, client
    for _ in range(10):
        await asyncio.sleep(0)
    assert count_resources() == before

"""Soak test: many connect/disconnect cycles, then a long flood.

1. ``--cycles`` (default 10,000) connections to a
   `tcpframe.TestOneClientReadLoopServer`, each exchanging a line both ways
   and then ending a different way: the client closes, the server closes
   the client, the client resets (RST), a raw socket closes or resets, a
   second client is turned away. Before and after, it counts open file
   descriptors, asyncio tasks, live transports and tcpframe protocols,
   readers and writers, and ResourceWarnings; any growth is a leak.
2. ``--flood-seconds`` (default 60) of a fast sender (a thread sending as
   fast as loopback allows) against a `tcpframe.Client` that reads slowly
   and checks every byte; the receive buffer must stay near its high-water
   mark and peak RSS must not grow with what is offered.

Run ``python -m tools.soak [--cycles N] [--flood-seconds S] [--loop uvloop]``
from the repository root, with tcpframe installed. It prints the counts
and exits non-zero on a leak, an unbounded buffer or a wrong byte.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import socket
import struct
import sys
import threading
import time
import warnings

import psutil

import tcpframe
from tcpframe.stream.reader import DEFAULT_HIGH_WATER

MiB = 2**20
LOCALHOST = "127.0.0.1"
ENDINGS = ["client_close", "server_close_client", "client_reset", "raw_close", "raw_reset", "rejected"]
PATTERN = bytes(range(256)) * (MiB // 256)  # byte k of the flood is k % 256


def count_resources() -> dict[str, int]:
    """Open file descriptors, tasks, and live tcpframe/asyncio connection objects."""
    gc.collect()
    objects = gc.get_objects()
    return {
        "fds": psutil.Process().num_fds(),
        "tasks": len(asyncio.all_tasks()),
        "transports": sum(isinstance(o, asyncio.BaseTransport) for o in objects),
        "protocols": sum(isinstance(o, tcpframe.FrameProtocol) for o in objects),
        "readers": sum(isinstance(o, tcpframe.FrameReader) for o in objects),
        "writers": sum(isinstance(o, tcpframe.FrameWriter) for o in objects),
    }


async def raw_connect(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (LOCALHOST, port)), 5)
    return sock


def reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def one_cycle(server: tcpframe.TestOneClientReadLoopServer, log: logging.Logger, ending: str) -> None:
    loop = asyncio.get_running_loop()
    if ending.startswith("raw"):
        sock = await raw_connect(server.port)
        await loop.sock_sendall(sock, b"raw\r\n")
        assert await server.get_next_data() == "raw"
        reset(sock) if ending == "raw_reset" else sock.close()
    else:
        client = tcpframe.Client(host=LOCALHOST, port=server.port, log=log)
        await asyncio.wait_for(client.start_task, 5)
        await asyncio.wait_for(server.connected_task, 5)
        await client.write_str("ping")
        assert await server.get_next_data() == "ping"
        await server.write_str("pong")
        assert await asyncio.wait_for(client.read_str(), 5) == "pong"
        if ending == "rejected":
            intruder = await raw_connect(server.port)
            try:
                while await asyncio.wait_for(loop.sock_recv(intruder, 100), 5):
                    pass
            except ConnectionResetError:
                pass
            intruder.close()
        elif ending == "server_close_client":
            await server.close_client()
            try:
                await asyncio.wait_for(client.read_str(), 5)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
        elif ending == "client_reset":
            client.writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            client.writer.transport.abort()
        await asyncio.wait_for(client.close(), 5)
    async with asyncio.timeout(5):
        while server.connected or not server.writer.is_closing() or not server.read_loop_task.done():
            await asyncio.sleep(0.001)


async def cycles(count: int) -> bool:
    log = logging.getLogger("soak")
    server = tcpframe.TestOneClientReadLoopServer(port=0, log=log)
    await asyncio.wait_for(server.start_task, 5)
    try:
        for ending in ENDINGS:  # warm up: first-use allocations are not leaks
            await one_cycle(server, log, ending)
        before = count_resources()
        rss_before = psutil.Process().memory_info().rss
        started = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for cycle in range(count):
                await one_cycle(server, log, ENDINGS[cycle % len(ENDINGS)])
                if (cycle + 1) % 2000 == 0:
                    print(f"  {cycle + 1} cycles, {time.monotonic() - started:.1f} s", flush=True)
            after = count_resources()
        elapsed = time.monotonic() - started
        rss_after = psutil.Process().memory_info().rss
    finally:
        await asyncio.wait_for(server.close(), 10)
    resource_warnings = [w for w in caught if issubclass(w.category, ResourceWarning)]
    rate = count / elapsed
    print(f"{count} connect/disconnect cycles in {elapsed:.1f} s ({rate:.0f}/s), endings: {', '.join(ENDINGS)}")
    print(f"  before: {before}")
    print(f"  after:  {after}")
    print(f"  ResourceWarnings: {len(resource_warnings)}; RSS {rss_before / MiB:.1f} -> {rss_after / MiB:.1f} MiB")
    return after == before and not resource_warnings


class FastSender(threading.Thread):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        sock.setblocking(True)
        sock.settimeout(0.1)
        self.sock = sock
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        view = memoryview(PATTERN)
        while not self.stopping.is_set():
            try:
                self.sent += self.sock.send(view)
            except TimeoutError:
                continue
            except OSError:
                return
            # Keep the stream a whole number of patterns: send the rest of this one.
            view = memoryview(PATTERN)[self.sent % len(PATTERN) :] or memoryview(PATTERN)


async def flood(seconds: float) -> bool:
    log = logging.getLogger("soak")
    listener = socket.create_server((LOCALHOST, 0))
    listener.setblocking(False)
    client = tcpframe.Client(host=LOCALHOST, port=listener.getsockname()[1], log=log)
    sock, _ = await asyncio.wait_for(asyncio.get_running_loop().sock_accept(listener), 5)
    sender = FastSender(sock)
    process = psutil.Process()
    gc.collect()
    rss_before = peak = process.memory_info().rss
    offset = most_buffered = 0
    ok = True
    try:
        await asyncio.wait_for(client.start_task, 5)
        sender.start()
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            most_buffered = max(most_buffered, len(client.reader._buffer))
            data = await asyncio.wait_for(client.readexactly(2**16), 5)
            start = offset % 256
            if data != PATTERN[start : start + len(data)]:
                print(f"  wrong bytes at offset {offset}")
                ok = False
                break
            offset += len(data)
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.002)  # the slow reader: at most ~32 MB/s
    finally:
        await asyncio.wait_for(client.close(), 10)
        sender.stopping.set()
        sender.join(5)
        sock.close()
        listener.close()
    growth = peak - rss_before
    print(f"fast sender / slow reader for {seconds:g} s:")
    print(f"  sent {sender.sent / MiB:.0f} MiB, read and checked {offset / MiB:.0f} MiB")
    print(
        f"  most bytes buffered by the reader: {most_buffered / MiB:.2f} MiB "
        f"(high-water mark {DEFAULT_HIGH_WATER / MiB:.0f} MiB)"
    )
    print(f"  peak RSS growth: {growth / MiB:.1f} MiB")
    return ok and most_buffered <= DEFAULT_HIGH_WATER + 4 * MiB and growth < 64 * MiB


async def soak(args: argparse.Namespace) -> bool:
    ok = True
    if args.cycles:
        ok &= await cycles(args.cycles)
    if args.flood_seconds:
        ok &= await flood(args.flood_seconds)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=10_000, help="connect/disconnect cycles (default 10000)")
    parser.add_argument("--flood-seconds", type=float, default=60.0, help="fast sender / slow reader run (default 60)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="event loop")
    args = parser.parse_args(argv)
    # Turned-away clients and resets are logged as errors; here they are the point.
    logging.getLogger("soak").setLevel(logging.CRITICAL)
    print(f"tcpframe kernels: {'compiled' if tcpframe.ACCELERATED else 'pure-Python twins'}; loop: {args.loop}")
    if args.loop == "uvloop":
        import uvloop

        ok = uvloop.run(soak(args))
    else:
        ok = asyncio.run(soak(args))
    print("OK: nothing leaked, buffers stayed bounded" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
